"""What waits for one person's decision: their own approvals and those of approvers away
whom they decide for."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.approvals import quorum
from orchestrator.models import Approval, ApprovalStatus
from orchestrator.people import delegation
from orchestrator.people.actors import Actor, check_workspace
from orchestrator.people.delegation import Delegation
from orchestrator.runtime.context import Context


@dataclass(frozen=True)
class Waiting:
    approval: Approval
    counts_for: str
    """Whose decision the person gives: themselves, or an approver away."""


async def waiting_for(ctx: Context, actor: Actor) -> list[Waiting]:
    """The pending approvals of `actor`'s workspace that `actor` may still decide, soonest
    deadline first."""
    await check_workspace(ctx.store, actor)
    people = ctx.workspace_of(actor.workspace).people
    away = await Delegation(ctx).absences(actor.workspace)
    found = []
    for approval_id in await ctx.store.pending_approval_ids(actor.workspace):
        approval = await ctx.store.approval(approval_id)
        if approval.status is not ApprovalStatus.PENDING:
            continue
        principal = delegation.counts_for(approval, actor.user, away, people)
        if principal is not None and not quorum.voted(approval, principal):
            found.append(Waiting(approval, principal))
    return sorted(found, key=lambda w: (w.approval.deadline, w.approval.id))
