"""The approval SLA ladder: remind after T1, escalate and page after T2, expire after T3.

Each rung is a timer set in the same commit that requests the approval, so a crash can
never leave an approval without its ladder. Every rung checks the approval is still
pending (a decision in the meantime makes it a no-op), is audited, and says so in the
channel. Expiry is `Approvals.expire` with the policy's default.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orchestrator.approvals import ballot
from orchestrator.errors import TransitionRefused
from orchestrator.models import Approval, ApprovalStatus
from orchestrator.notify.incidents import Incident, IncidentKind, dedup_key
from orchestrator.notify.notices import EscalatedData, Notice, NoticeData, NoticeKind, ReminderData
from orchestrator.people.delegation import Delegation
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import EscalateApproval, NameStandIns, Page, RemindApprovers
from orchestrator.runtime.queue import Delivery
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.workspace.catalog import Policy

Rung = type[RemindApprovers] | type[EscalateApproval]
RUNGS: tuple[Rung, ...] = (RemindApprovers, EscalateApproval)


def timer_id(approval_id: str, rung: Rung) -> str:
    return f"approval:{approval_id}:{rung.KIND}"


def schedule_in(ctx: Context, commit: Commit, approval: Approval, policy: Policy) -> Commit:
    """Add the reminder and escalation timers that fall before the approval's deadline, and
    the job that names the delegates of approvers away."""
    ctx.queue.enqueue_in(commit, NameStandIns(approval=approval.id))
    rungs: tuple[tuple[Rung, float | None], ...] = (
        (RemindApprovers, policy.remind_after_h),
        (EscalateApproval, policy.escalate_after_h),
    )
    for rung, hours in rungs:
        if hours is None:
            continue
        due = approval.requested_at + timedelta(hours=hours)
        if due < approval.deadline:
            ctx.queue.schedule_in(
                commit, timer_id(approval.id, rung), due, rung(approval=approval.id)
            )
    return commit


def paged_flag(ctx: Context, approval_id: str) -> str:
    return ctx.keys.flag(f"paged:approval:{approval_id}", ctx.keys.tag_of(approval_id))


async def settle_in(ctx: Context, commit: Commit, approval: Approval) -> Commit:
    """On a decision or expiry: drop the remaining rungs; resolve the page if one went out."""
    for rung in RUNGS:
        ctx.queue.cancel_in(commit, timer_id(approval.id, rung))
    flag = paged_flag(ctx, approval.id)
    if await ctx.store.flags.raised(flag):
        resolve = _page(approval, ctx.clock.now(), "resolve", "decided")
        ctx.queue.enqueue_in(commit, Page(incident=resolve))
        commit.op("DEL", flag)
    return commit


class Ladder:
    """The job handlers of the two rungs before expiry."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def remind(self, approval_id: str, work: Delivery | None) -> None:
        if await self._due(approval_id, RemindApprovers) is None:
            return
        # Name on the reminder who decides for approvers away (requested before they left,
        # or while they were away).
        approval = await Delegation(self.ctx).refresh(approval_id, work)
        stand_ins = ", ".join(f"{d} for {a}" for a, d in approval.stand_ins.items())
        detail: dict[str, str | None] = {"stand_ins": stand_ins} if stand_ins else {}
        said = ReminderData(stand_ins=stand_ins or None)
        commit = await self._rung(
            approval, "approval.reminded", NoticeKind.APPROVAL_REMINDER, detail, said
        )
        await self._apply(commit, work)

    async def stand_ins(self, approval_id: str, work: Delivery | None) -> None:
        """A request's card names who decides for its approvers away (a no-op when nobody
        is away: nothing is written)."""
        await Delegation(self.ctx).refresh(approval_id, work)

    async def escalate(self, approval_id: str, work: Delivery | None) -> None:
        """Add the next person of the on-call chain as an approver, and page on-call."""
        for _ in range(ballot.TRIES):
            read = await ballot.version(self.ctx.store, approval_id)
            approval = await self._due(approval_id, EscalateApproval)
            if approval is None:
                return
            try:
                await self.ctx.store.apply(await self._escalation(approval, read), fenced_by=work)
            except TransitionRefused as refused:
                if ballot.raced(refused, self.ctx.keys, approval_id):
                    continue  # a vote came first: escalate what it left
                return  # decided in the meantime: the rung no longer applies
            # The person escalated to may be away: the card names who decides for them.
            await Delegation(self.ctx).refresh(approval_id, work)
            return

    async def _escalation(self, approval: Approval, read: str) -> Commit:
        chain = [p for p in approval.escalation if p not in approval.approvers]
        to = chain[0] if chain else None
        after = approval.model_copy(
            update={"approvers": (*approval.approvers, to) if to else approval.approvers}
        )
        commit = await self._rung(
            after,
            "approval.escalated",
            NoticeKind.APPROVAL_ESCALATED,
            {"to": to},
            EscalatedData(to=to),
        )
        # Same status, new approvers: a compare-and-set on `pending` and on the approval's
        # version keeps a decision or a vote that lands first from being overwritten.
        key = self.ctx.keys.approval(approval.id)
        ballot.advance_in(commit, self.ctx.keys, approval.id, read)
        commit.expect(key, ApprovalStatus.PENDING.value)
        commit.write(key, ApprovalStatus.PENDING.value, after.model_dump_json())
        page = _page(after, self.ctx.clock.now(), "trigger", f"escalated to {to or 'on-call'}")
        self.ctx.queue.enqueue_in(commit, Page(incident=page))
        commit.op("SET", paged_flag(self.ctx, approval.id), "1")
        return commit

    async def _due(self, approval_id: str, rung: Rung) -> Approval | None:
        """The approval if the rung should fire now; re-arms a timer that fired early."""
        approval = await self.ctx.store.approval(approval_id)
        if approval.status is not ApprovalStatus.PENDING:
            return None
        policy = self.ctx.workspace_of(approval.workspace).policy
        hours = policy.remind_after_h if rung is RemindApprovers else policy.escalate_after_h
        due = approval.requested_at + timedelta(hours=hours or 0)
        if self.ctx.clock.now() < due:
            tid = timer_id(approval.id, rung)
            again = rung(approval=approval.id)
            await self.ctx.queue.schedule(tid, due, again, workspace=approval.workspace)
            return None
        return approval

    async def _rung(
        self,
        approval: Approval,
        action: str,
        kind: NoticeKind,
        detail: dict[str, str | None],
        data: NoticeData,
    ) -> Commit:
        """The rung's audit event (`detail`) and its notice (`data`), in one commit."""
        outcome = await self.ctx.store.outcome(approval.outcome_id)
        commit = transitions.audit(
            Commit(),
            self.ctx.keys,
            approval.workspace,
            actor="policy",
            at=self.ctx.clock.now(),
            action=action,
            subject=f"approval:{approval.id}",
            outcome_id=approval.outcome_id,
            detail={"approvers": list(approval.approvers), **detail},
        )
        return self.ctx.notify(commit, Notice.on_approval(kind, outcome, approval, data))

    async def _apply(self, commit: Commit, work: Delivery | None) -> None:
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused:
            return  # decided in the meantime: the rung no longer applies


def _page(approval: Approval, at: datetime, action: str, what: str) -> Incident:
    return Incident(
        kind=IncidentKind.APPROVAL_ESCALATED.value,
        workspace=approval.workspace,
        outcome_id=approval.outcome_id,
        what=f"approval {approval.id} ({approval.what}) is unanswered; {what}",
        dedup_key=dedup_key(IncidentKind.APPROVAL_ESCALATED.value, approval.id),
        action="resolve" if action == "resolve" else "trigger",
        at=at,
        details={"approval": approval.id, "deadline": approval.deadline.isoformat()},
    )
