"""What the current work is about (request, job, outcome, step, approval), for log lines.

The ids live in a context variable, so every log record made while handling a job or a
request can carry them; the composition root's log configuration adds them to each line.
The core uses the standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

LOG_CONTEXT: ContextVar[Mapping[str, str] | None] = ContextVar("baton_log_context", default=None)


def current() -> Mapping[str, str]:
    """The ids bound now (empty outside any job or request)."""
    return LOG_CONTEXT.get() or {}


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Add `ids` (those that are set) to the log context until the block ends."""
    merged = {**current(), **{k: str(v) for k, v in ids.items() if v}}
    token = LOG_CONTEXT.set(merged)
    try:
        yield
    finally:
        LOG_CONTEXT.reset(token)


def ids_of(kind: str, job_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ids a job is about: job payloads name them `outcome`/`step`/`approval`, notices
    `outcome_id`/`step_id`/`approval_id`."""
    return {
        "job": kind,
        "job_id": job_id,
        "outcome_id": payload.get("outcome") or payload.get("outcome_id"),
        "step_id": payload.get("step") or payload.get("step_id"),
        "approval_id": payload.get("approval") or payload.get("approval_id"),
    }
