"""Human decisions: approve, reject with a reason, or let the deadline decide."""

from __future__ import annotations

from orchestrator import sla, transitions
from orchestrator.actors import Actor, check_home, done_before, marked, refused_as_done
from orchestrator.cases import CASE_JOB
from orchestrator.context import Context
from orchestrator.errors import BatonError, NotAllowed, TransitionRefused
from orchestrator.models import Approval, ApprovalStatus, Outcome, Step, StepStatus
from orchestrator.notices import Notice, NoticeKind
from orchestrator.steps import EXECUTE_JOB, execute_payload
from orchestrator.store.commit import Commit

TICK_JOB = "tick"


class AlreadyDecided(BatonError):
    """The approval was decided before; carries the decision that stands."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(f"approval {approval.id} is already {approval.status.value}")
        self.approval = approval


class Approvals:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def decide(
        self, approval_id: str, actor: Actor, approve: bool, reason: str = ""
    ) -> Approval:
        """Decide once, for the tenant that owns the approval. A second decision, or a race
        lost, raises `AlreadyDecided`; the same delivery run again returns the decision it
        made (the decision and the delivery's mark are one commit)."""
        approval = await self.ctx.store.approval(approval_id)
        outcome = await self.ctx.store.outcome(approval.outcome_id)
        check_home(actor, outcome.conversation, "approval", approval_id)
        if actor.user not in approval.approvers:
            await self._refused(approval, actor)
            raise NotAllowed(actor.user, f"decide approval {approval_id}")
        if approval.status is not ApprovalStatus.PENDING:
            if await done_before(self.ctx.store, actor):
                return approval
            raise AlreadyDecided(approval)
        status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
        after = approval.model_copy(
            update={
                "status": status,
                "decided_by": actor.user,
                "decided_at": self.ctx.clock.now(),
                "reason": reason.strip()[:1000],
            }
        )
        commit = await self._settle(
            approval, after, outcome, actor=actor.user, commit=marked(self.ctx.store, actor)
        )
        try:
            await self.ctx.store.apply(commit)
        except TransitionRefused as refused:
            current = await self.ctx.store.approval(approval_id)
            if refused_as_done(refused):
                return current
            raise AlreadyDecided(current) from None
        return after

    async def expire(self, approval_id: str) -> None:
        """The timeout job: the policy's default decides an approval nobody decided."""
        approval = await self.ctx.store.approval(approval_id)
        if approval.status is not ApprovalStatus.PENDING:
            return
        now = self.ctx.clock.now()
        if now < approval.deadline:
            await self.ctx.queue.schedule(
                f"approval:{approval.id}",
                approval.deadline,
                "approval_timeout",
                {"approval": approval.id},
            )
            return
        after = approval.model_copy(
            update={
                "status": ApprovalStatus.EXPIRED,
                "decided_at": now,
                "reason": f"no decision by the deadline; default: {approval.on_timeout}",
            }
        )
        outcome = await self.ctx.store.outcome(approval.outcome_id)
        try:
            await self.ctx.store.apply(
                await self._settle(approval, after, outcome, actor="policy", commit=Commit())
            )
        except TransitionRefused:
            return  # decided by a person in the meantime

    async def _settle(
        self, before: Approval, after: Approval, outcome: Outcome, *, actor: str, commit: Commit
    ) -> Commit:
        # The step is read after the approval; a concurrent decision may have moved it on.
        # Expect the state a pending approval implies, so that race ends in the store's
        # compare-and-set refusing (one decision wins) rather than in an illegal transition.
        loaded = await self.ctx.store.step(before.step_id)
        step = loaded.model_copy(update={"status": StepStatus.AWAITING_APPROVAL})
        now = self.ctx.clock.now()
        runs = after.status is ApprovalStatus.APPROVED or (
            after.status is ApprovalStatus.EXPIRED and before.on_timeout == "approve"
        )
        step_status = (
            StepStatus.APPROVED
            if runs
            else (
                StepStatus.EXPIRED
                if after.status is ApprovalStatus.EXPIRED
                else StepStatus.REJECTED
            )
        )
        transitions.record(
            commit,
            self.ctx.keys,
            before,
            after,
            actor=actor,
            at=now,
            action=f"approval.{after.status.value}",
            detail={"reason": after.reason} if after.reason else {},
        )
        step_after = step.model_copy(update={"status": step_status})
        transitions.record(
            commit,
            self.ctx.keys,
            step,
            step_after,
            actor=actor,
            at=now,
            action=f"step.{step_status.value}",
        )
        commit.op("SREM", self.ctx.keys.pending_approvals(before.workspace), before.id)
        self.ctx.queue.cancel_in(commit, f"approval:{before.id}")
        await sla.settle_in(self.ctx, commit, before)
        if runs:
            self.ctx.queue.enqueue_in(commit, EXECUTE_JOB, execute_payload(step))
        else:
            await self._cancel_dependents(step, commit, actor)
            # Re-plan at once around the decision rather than at the next scheduled tick.
            self.ctx.queue.enqueue_in(commit, TICK_JOB, {"outcome": outcome.id, "replan": True})
            if step.case_id is not None:  # the case learns its step will not run
                self.ctx.queue.enqueue_in(commit, CASE_JOB, {"case": step.case_id})
        self.ctx.notify(
            commit,
            Notice(
                kind=NoticeKind.APPROVAL_DECIDED,
                conversation=outcome.conversation,
                outcome_id=outcome.id,
                step_id=step.id,
                approval_id=before.id,
            ),
        )
        return commit

    async def _cancel_dependents(self, step: Step, commit: Commit, actor: str) -> None:
        for other in await self.ctx.store.steps(step.outcome_id):
            if other.depends_on == step.id and other.status is StepStatus.PLANNED:
                cancelled = other.model_copy(update={"status": StepStatus.CANCELLED})
                transitions.record(
                    commit,
                    self.ctx.keys,
                    other,
                    cancelled,
                    actor=actor,
                    at=self.ctx.clock.now(),
                    action="step.cancelled",
                    detail={"because": f"{step.id} did not run"},
                )

    async def _refused(self, approval: Approval, actor: Actor) -> None:
        """Audit a refused attempt, once however often its delivery comes back."""
        commit = transitions.audit(
            marked(self.ctx.store, actor),
            self.ctx.keys,
            approval.workspace,
            actor=actor.user,
            at=self.ctx.clock.now(),
            action="approval.refused",
            subject=f"approval:{approval.id}",
            outcome_id=approval.outcome_id,
            detail={"why": "not an approver of this outcome"},
        )
        try:
            await self.ctx.store.apply(commit)
        except TransitionRefused as refused:
            if not refused_as_done(refused):
                raise


WITHDRAWN = "withdrawn: "
"""How a withdrawn approval's reason starts (`withdrawn: outcome stopped`)."""


def withdrawn_because(approval: Approval) -> str | None:
    """Why `approval` was withdrawn ("outcome stopped"), or None when it was decided."""
    if approval.status is ApprovalStatus.EXPIRED and approval.reason.startswith(WITHDRAWN):
        return approval.reason.removeprefix(WITHDRAWN)
    return None


async def withdraw_pending(
    ctx: Context, history: list[Step], commit: Commit, *, by: str, reason: str
) -> list[Step]:
    """Withdraw, in `commit`, the pending approvals of an outcome a person ended, naming
    them as who withdrew it (a click on such a card then says so), and cancel their steps.
    Returns `history` as it will stand, for the rest of the closing to skip those steps."""
    now = ctx.clock.now()
    after: list[Step] = []
    for step in history:
        if step.status is not StepStatus.AWAITING_APPROVAL:
            after.append(step)
            continue
        approval = await ctx.store.approval(f"a{step.id[1:]}")
        withdrawn = approval.model_copy(
            update={
                "status": ApprovalStatus.EXPIRED,
                "decided_by": by,
                "decided_at": now,
                "reason": WITHDRAWN + reason,
            }
        )
        transitions.record(
            commit, ctx.keys, approval, withdrawn, actor=by, at=now, action="approval.withdrawn"
        )
        cancelled = step.model_copy(update={"status": StepStatus.CANCELLED})
        transitions.record(
            commit,
            ctx.keys,
            step,
            cancelled,
            actor=by,
            at=now,
            action="step.cancelled",
            detail={"because": reason},
        )
        commit.op("SREM", ctx.keys.pending_approvals(approval.workspace), approval.id)
        ctx.queue.cancel_in(commit, f"approval:{approval.id}")
        await sla.settle_in(ctx, commit, approval)
        after.append(cancelled)
    return after
