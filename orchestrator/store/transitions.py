"""The state machines of outcomes, steps and approvals, and audited transitions.

Every change of a record goes through `record`: it checks the move is legal, adds a
compare-and-set on the state the caller read, writes the new state and appends an
audit event, all to one `Commit`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from orchestrator.errors import IllegalTransition
from orchestrator.models import Approval, AuditEvent, Case, Outcome, Step
from orchestrator.store import gauges
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys

Tracked = Outcome | Step | Approval | Case
_CASE_MOVES = frozenset({"running", "awaiting_approval", "done", "rejected", "failed", "cancelled"})

LEGAL: dict[str, dict[str, frozenset[str]]] = {
    "outcome": {
        "": frozenset({"active"}),
        "active": frozenset({"active", "paused", "achieved", "missed", "stopped"}),
        "paused": frozenset({"paused", "active", "stopped"}),
    },
    "step": {
        "": frozenset({"planned"}),
        "planned": frozenset({"awaiting_approval", "approved", "forbidden", "cancelled"}),
        "awaiting_approval": frozenset({"approved", "rejected", "expired", "cancelled"}),
        "approved": frozenset({"running", "cancelled"}),
        "running": frozenset({"succeeded", "failed"}),
        "succeeded": frozenset({"succeeded"}),
    },
    "approval": {
        "": frozenset({"pending"}),
        "pending": frozenset({"approved", "rejected", "expired"}),
    },
    # A case moves step by step (`running -> running` records one more step done).
    "case": {
        "": frozenset({"received"}),
        "received": _CASE_MOVES,
        "running": _CASE_MOVES,
        "awaiting_approval": _CASE_MOVES,
    },
}


def kind_of(record: Tracked) -> str:
    return {Outcome: "outcome", Step: "step", Approval: "approval", Case: "case"}[type(record)]


def key_of(keys: Keys, record: Tracked) -> str:
    if isinstance(record, Outcome):
        return keys.outcome(record.id)
    if isinstance(record, Step):
        return keys.step(record.id)
    if isinstance(record, Case):
        return keys.case(record.id)
    return keys.approval(record.id)


def outcome_of(record: Tracked) -> str:
    return record.id if isinstance(record, Outcome) else record.outcome_id


def record(
    commit: Commit,
    keys: Keys,
    before: Tracked | None,
    after: Tracked,
    *,
    actor: str,
    at: datetime,
    action: str,
    detail: dict[str, Any] | None = None,
) -> Commit:
    """Add the audited compare-and-set `before -> after` to `commit`."""
    kind = kind_of(after)
    source = before.status.value if before is not None else ""
    target = after.status.value
    if target not in LEGAL[kind].get(source, frozenset()):
        raise IllegalTransition(kind, source or "absent", target)
    key = key_of(keys, after)
    commit.expect(key, source)
    commit.write(key, target, after.model_dump_json())
    gauges.track(commit, keys, before, after)
    return audit(
        commit,
        keys,
        after.workspace,
        actor=actor,
        at=at,
        action=action,
        subject=f"{kind}:{after.id}",
        outcome_id=outcome_of(after),
        before=source or None,
        after=target,
        detail=detail,
    )


def audit(
    commit: Commit,
    keys: Keys,
    workspace: str,
    *,
    actor: str,
    at: datetime,
    action: str,
    subject: str,
    outcome_id: str | None = None,
    before: str | None = None,
    after: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Commit:
    """Append an audit event that is not a state change (a measurement, a refusal)."""
    body = audit_body(
        {
            "at": at,
            "workspace": workspace,
            "actor": actor,
            "action": action,
            "subject": subject,
            "outcome_id": outcome_id,
            "before": before,
            "after": after,
            "detail": detail or {},
        }
    )
    index = keys.audit_index(outcome_id) if outcome_id else ""
    return commit.audit(keys.audit(workspace), index, body)


def audit_body(fields: dict[str, Any]) -> str:
    """An audit event's JSON without its place in the chain (seq, prev, hash), exactly as
    `AuditEvent` dumps it. The core builds events from values it made itself, so orjson
    writes them (several times faster); pydantic writes what orjson cannot (an integer
    beyond 64 bits) and refuses what neither can. Events are validated when read back."""
    try:
        return orjson.dumps(fields, option=_AUDIT_JSON, default=_decimal).decode()
    except TypeError:
        event = AuditEvent.model_construct(seq=0, prev="", hash="", **fields)
        return event.model_dump_json(exclude={"seq", "prev", "hash"})


_AUDIT_JSON = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # as pydantic writes a Decimal
    raise TypeError(type(value).__name__)
