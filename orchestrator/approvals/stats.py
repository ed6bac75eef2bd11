"""Decision analytics: who decides, how fast, and how often each action is approved.

Read from the audit chain, its archived part included (which approvals were requested,
escalated) and the approval records (every vote with its time, edits, the outcome): nothing
extra is written when
people decide, so the figures cover every approval ever requested in the workspace.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.errors import NotFound
from orchestrator.models import Approval, ApprovalStatus, Vote
from orchestrator.store.redis_store import RedisStore, parse_audit_entry


@dataclass
class Tally:
    approved: int = 0
    rejected: int = 0
    expired: int = 0
    seconds: list[float] = field(default_factory=list)
    """Time from the request to each decision counted here."""

    @property
    def decided(self) -> int:
        return self.approved + self.rejected

    @property
    def rate(self) -> float | None:
        """Share approved of those people decided; None before any decision."""
        return self.approved / self.decided if self.decided else None


@dataclass
class DecisionStats:
    approvers: dict[str, Tally]
    actions: dict[str, Tally]
    overall: Tally
    escalations: int
    edits: int
    pending: int

    @property
    def empty(self) -> bool:
        """Nothing was decided, expired or edited, and nothing waits."""
        overall = self.overall
        return not (overall.decided or overall.expired or self.pending or self.edits)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` in 0..1) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _count(tally: Tally, approve: bool, seconds: float) -> None:
    if approve:
        tally.approved += 1
    else:
        tally.rejected += 1
    tally.seconds.append(seconds)


def _votes(approval: Approval) -> tuple[Vote, ...]:
    """Each decision given; an approval decided before votes were kept, as one vote."""
    if approval.votes or approval.decided_by is None or approval.decided_at is None:
        return approval.votes
    approve = approval.status is ApprovalStatus.APPROVED
    vote = Vote(
        voter=approval.decided_by,
        counts_for=approval.decided_by,
        approve=approve,
        at=approval.decided_at,
    )
    return (vote,)


def _within(at: datetime | None, since: datetime | None) -> bool:
    return since is None or (at is not None and at >= since)


async def gather(
    store: RedisStore,
    workspace: str,
    *,
    since: datetime | None = None,
    outcome_id: str | None = None,
) -> DecisionStats:
    """The workspace's figures; with `since`, what happened from then on (votes, decisions,
    expiries, escalations, edits; `pending` is what waits now); with `outcome_id`, one
    outcome's approvals only."""
    # The whole chain, the part moved to the history store too, so the figures stay the
    # same once decided approvals are archived.
    chain = [parse_audit_entry(raw) for raw in await store.audit_entries(workspace)]
    events = [e for e in chain if outcome_id is None or e.outcome_id == outcome_id]
    ids = [e.subject.split(":", 1)[1] for e in events if e.action == "approval.requested"]
    stats = DecisionStats(defaultdict(Tally), defaultdict(Tally), Tally(), 0, 0, 0)
    stats.escalations = sum(
        1 for e in events if e.action == "approval.escalated" and _within(e.at, since)
    )
    for approval_id in dict.fromkeys(ids):
        try:
            approval = await store.approval(approval_id)
        except NotFound:
            continue
        _add(stats, approval, since)
    return stats


def _add(stats: DecisionStats, approval: Approval, since: datetime | None = None) -> None:
    action = stats.actions[approval.what]
    stats.edits += sum(1 for edit in approval.edits if _within(edit.at, since))
    for vote in _votes(approval):
        if _within(vote.at, since):
            waited = (vote.at - approval.requested_at).total_seconds()
            _count(stats.approvers[vote.voter], vote.approve, waited)
    if approval.status is ApprovalStatus.PENDING:
        stats.pending += 1
    elif not _within(approval.decided_at, since):
        return
    elif approval.status is ApprovalStatus.EXPIRED:
        action.expired += 1
        stats.overall.expired += 1
    elif approval.decided_at is not None:
        waited = (approval.decided_at - approval.requested_at).total_seconds()
        approved = approval.status is ApprovalStatus.APPROVED
        _count(action, approved, waited)
        _count(stats.overall, approved, waited)
