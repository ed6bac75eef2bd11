"""The one retry layer for model calls: backoff with jitter, `Retry-After` on 429,
timeouts and 5xx.

Provider clients are built with `max_retries=0`, so retries happen here and only here.
Errors are classified by their HTTP status and type name, so this module needs no
provider SDK.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from orchestrator.llm.errors import LlmUnavailable

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

_TRANSIENT_NAMES = frozenset(
    {"APITimeoutError", "APIConnectionError", "TimeoutException", "ConnectError", "ReadTimeout"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a model call is retried."""

    retries: int = 3
    """Retries after the first attempt."""
    base_s: float = 0.5
    """First backoff; doubled on each retry, plus up to this much jitter."""
    max_wait_s: float = 30.0
    """Upper bound for any wait, `Retry-After` included."""
    attempt_timeout_s: float = 60.0
    """A guard around each attempt in case a provider ignores its own client timeout."""


def status_of(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    if status is None:
        status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def retry_after(error: BaseException) -> float | None:
    """Seconds from a `Retry-After` header (numeric form), if the error carries one."""
    headers: Any = getattr(getattr(error, "response", None), "headers", None) or {}
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def is_transient(error: BaseException) -> bool:
    """429, 5xx, timeouts and dropped connections are worth another try; nothing else."""
    status = status_of(error)
    if status is not None:
        return status == 429 or status >= 500
    if isinstance(error, TimeoutError | ConnectionError):
        return True
    return any(cls.__name__ in _TRANSIENT_NAMES for cls in type(error).__mro__)


async def with_retries(
    call: Callable[[], Awaitable[T]], policy: RetryPolicy, sleep: Sleep = asyncio.sleep
) -> T:
    """Run `call`, retrying transient failures (tenacity, exponential backoff with jitter,
    a 429's `Retry-After` kept to); raises `LlmUnavailable` when it gives up."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.retries + 1),
        retry=retry_if_exception(is_transient),
        wait=_wait(policy),
        sleep=sleep,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                async with asyncio.timeout(policy.attempt_timeout_s):
                    return await call()
    except Exception as error:  # provider SDKs raise their own roots; classify, don't trust
        tries = int(retrying.statistics.get("attempt_number", 1))
        raise LlmUnavailable(_describe(error), attempts=tries) from error
    raise AssertionError("unreachable: tenacity returns or re-raises")


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    """`Retry-After` on a 429 (capped), else the policy's backoff plus up to `base_s` of
    jitter, so clients that failed together do not retry together."""
    backoff = wait_exponential(multiplier=policy.base_s, max=policy.max_wait_s) + wait_random(
        0, policy.base_s
    )

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after(error) if error is not None and status_of(error) == 429 else None
        return min(asked, policy.max_wait_s) if asked is not None else backoff(state)

    return wait


def _describe(error: BaseException) -> str:
    status = status_of(error)
    kind = type(error).__name__
    return f"{kind} (HTTP {status})" if status is not None else kind
