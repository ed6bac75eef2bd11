"""`/outcome audit <id>` in words: who decided what, when; what ran; what it changed.

The full trail (every event, hash-chained) is `baton audit export`; this is the reading
a CFO or an approver wants in the channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.models import AuditEvent
from orchestrator.workspace.catalog import Workspace

from handlers.render import when

DECIDED = {"approval.approved": "approved", "approval.rejected": "rejected"}
POLICY = {"step.auto": "let run", "step.forbid": "forbade"}
RAN = {"step.succeeded": "ran", "step.failed": "failed"}


def _who(actor: str, workspace: Workspace) -> str:
    return actor if actor in ("agent", "policy", "system") else "@" + workspace.display(actor)


def _step(event: AuditEvent) -> str:
    return event.subject.split(":", 1)[-1]


def _outcome_of_run(event: AuditEvent) -> str:
    """What a run did to the world: its error, or the customers and records it touched."""
    if event.detail.get("error"):
        return f": {event.detail['error']}"
    parts = []
    if event.detail.get("audience"):
        parts.append(f"{event.detail['audience']} customers")
    receipt = event.detail.get("receipt") or {}
    if isinstance(receipt, dict) and "executions" in receipt:
        parts.append(f"{receipt['executions']} {receipt.get('noun', 'records')}")
    if event.detail.get("shadow"):
        parts.append("shadow: nothing written")
    return f" ({', '.join(parts)})" if parts else ""


def summary_lines(events: Sequence[AuditEvent], workspace: Workspace) -> tuple[str, ...]:
    """Three short sections in time order; sections with nothing to say are left out."""
    decided, ran, changed = [], [], []
    for event in events:
        at, who = when(event.at), _who(event.actor, workspace)
        reason = event.detail.get("reason")
        if event.action in DECIDED:
            decided.append(
                f"{at} {who} {DECIDED[event.action]} {event.subject}"
                + (f": {reason}" if reason else "")
            )
        elif event.action == "approval.expired":
            decided.append(f"{at} nobody decided {event.subject}; {reason or 'it expired'}")
        elif event.action in POLICY:
            decided.append(
                f"{at} policy {POLICY[event.action]} {_step(event)} ({event.detail.get('rule')})"
            )
        elif event.action.startswith(("policy.rule_", "outcome.", "workspace.")):
            rule = event.detail.get("rule")
            decided.append(f"{at} {who} {event.action}" + (f": {rule}" if rule else ""))
        elif event.action in RAN:
            ran.append(f"{at} {_step(event)} {RAN[event.action]}{_outcome_of_run(event)}")
        elif event.action == "step.verified" and "status" in event.detail:
            changed.append(f"{at} {_step(event)}: {_incremental(event.detail)}")
        elif event.action == "step.verified" and isinstance(event.detail.get("effect"), float):
            effect = float(event.detail["effect"])
            changed.append(f"{at} {_step(event)}: the metric moved {effect:+.2f} since it ran")
    lines = []
    for title, section in (("Decided:", decided), ("Ran:", ran), ("Changed:", changed)):
        if section:
            lines += [title, *(f"  {line}" for line in section)]
    return tuple(lines)


def _incremental(detail: dict[str, Any]) -> str:
    """A step measured against its control group: its effect with the 95% interval."""
    held = f"{detail.get('treated')} treated against {detail.get('control')} held back"
    if "on_metric" not in detail:
        return f"not enough data to measure its effect ({held})"
    return (
        f"measured effect {float(detail['on_metric']):+.2f} (95% CI "
        f"{float(detail['metric_low']):+.2f} to {float(detail['metric_high']):+.2f}; {held})"
    )
