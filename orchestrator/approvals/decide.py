"""Human decisions: approve, reject with a reason, or let the deadline decide."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestrator.approvals import ballot, edits, quorum
from orchestrator.approvals import ladder as sla
from orchestrator.approvals.edits import Change, EditRefused
from orchestrator.errors import BatonError, NotAllowed, TransitionRefused
from orchestrator.models import Approval, ApprovalStatus, Edit, Outcome, Step, StepStatus, Vote
from orchestrator.notify.notices import Notice, NoticeKind
from orchestrator.people import delegation
from orchestrator.people.actors import Actor, check_home, done_before, marked, refused_as_done
from orchestrator.people.delegation import Delegation
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import ExpireApproval, RunCase, Tick
from orchestrator.runtime.queue import Delivery
from orchestrator.steps.govern import cost_of, execute_of
from orchestrator.steps.policy import govern
from orchestrator.store import transitions
from orchestrator.store.commit import Commit

DECIDED = NoticeKind.APPROVAL_DECIDED


class AlreadyDecided(BatonError):
    """The approval was decided before; carries the decision that stands."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(f"approval {approval.id} is already {approval.status.value}")
        self.approval = approval


class AlreadyVoted(BatonError):
    """The person has decided this approval already (they count once); carries it as it is."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(f"approval {approval.id} already has this person's decision")
        self.approval = approval


class Approvals:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def decide(
        self,
        approval_id: str,
        actor: Actor,
        approve: bool,
        reason: str = "",
        change: Change | None = None,
    ) -> Approval:
        """Record `actor`'s vote, for the tenant that owns the approval; the vote that meets
        the quorum, or any rejection, decides. Each person counts once (`AlreadyVoted`); a
        vote after the decision, or a race lost to it, raises `AlreadyDecided`; the same
        delivery run again returns the approval as its vote left it (the vote, any decision
        and the delivery's mark are one commit). A race with another voter is tried again.
        With `change`, the approval is of the step as corrected (`edits`)."""
        for _ in range(ballot.TRIES):
            read = await ballot.version(self.ctx.store, approval_id)
            approval = await self.ctx.store.approval(approval_id)
            outcome = await self.ctx.store.outcome(approval.outcome_id)
            check_home(actor, outcome.conversation, "approval", approval_id)
            principal = await self._principal(approval, actor)
            if approval.status is not ApprovalStatus.PENDING or quorum.voted(approval, principal):
                if await done_before(self.ctx.store, actor):
                    return approval
                if approval.status is not ApprovalStatus.PENDING:
                    raise AlreadyDecided(approval)
                raise AlreadyVoted(approval)
            vote = Vote(
                voter=actor.user, counts_for=principal, approve=approve, at=self.ctx.clock.now()
            )
            fix = await self._edit(approval, outcome, vote, change) if change and approve else None
            after, commit = await self._vote(approval, outcome, actor, vote, read, reason, fix)
            try:
                await self.ctx.store.apply(commit, fenced_by=actor.work)
            except TransitionRefused as refused:
                current = await self.ctx.store.approval(approval_id)
                if refused_as_done(refused):
                    return current
                if ballot.already_voted(refused) and current.status is ApprovalStatus.PENDING:
                    raise AlreadyVoted(current) from None
                if ballot.raced(refused, self.ctx.keys, approval_id):
                    continue  # another vote came first: count again from what it left
                raise AlreadyDecided(current) from None
            return after
        raise AlreadyDecided(await self.ctx.store.approval(approval_id))

    async def _principal(self, approval: Approval, actor: Actor) -> str:
        """Whom `actor`'s vote counts for (themselves, or an absent approver they decide
        for); a person who may not decide is refused, and the attempt audited."""
        people = self.ctx.workspace_of(approval.workspace).people
        away = await Delegation(self.ctx).absences(approval.workspace)
        principal = delegation.counts_for(approval, actor.user, away, people)
        if principal is None:
            await self._refused(approval, actor)
            raise NotAllowed(actor.user, f"decide approval {approval.id}")
        return principal

    async def _vote(
        self,
        approval: Approval,
        outcome: Outcome,
        actor: Actor,
        vote: Vote,
        read: str,
        reason: str,
        fix: tuple[Step, Edit] | None = None,
    ) -> tuple[Approval, Commit]:
        """The commit of one vote: the person's vote key, the approval's version, any edit,
        and either the decision (a rejection, or the quorum met) or one more vote."""
        commit = marked(self.ctx.store, actor)
        ballot.vote_in(commit, self.ctx.keys, approval.id, vote.counts_for, vote.voter)
        ballot.advance_in(commit, self.ctx.keys, approval.id, read)
        voted = approval.model_copy(update={"votes": (*approval.votes, vote)})
        step = None
        if fix is not None:
            step, edit = fix
            voted = voted.model_copy(update={"edits": (*voted.edits, edit), "cost": step.cost})
            self._edit_in(commit, step, edit, approval)
        if vote.approve and not quorum.met(voted):
            if step is not None:  # the corrected version waits for the others
                key = self.ctx.keys.step(step.id)
                commit.expect(key, StepStatus.AWAITING_APPROVAL.value)
                commit.write(key, StepStatus.AWAITING_APPROVAL.value, step.model_dump_json())
            return voted, self._counted(approval, voted, outcome, vote, commit)
        status = ApprovalStatus.APPROVED if vote.approve else ApprovalStatus.REJECTED
        after = voted.model_copy(
            update={
                "status": status,
                "decided_by": actor.user,
                "decided_at": vote.at,
                "reason": reason.strip()[:1000],
            }
        )
        settled = await self._settle(
            approval, after, outcome, actor=actor.user, commit=commit, edited=step
        )
        return after, settled

    async def _edit(
        self, approval: Approval, outcome: Outcome, vote: Vote, change: Change
    ) -> tuple[Step, Edit]:
        """The step as `change` corrects it, checked again as if planned that way."""
        if quorum.approved_by(approval):
            raise EditRefused("others approved this version already; reject it instead")
        step = await self.ctx.store.step(approval.step_id)
        workspace = self.ctx.workspace_of(approval.workspace)
        action = workspace.actions[step.action]
        fixed = edits.edited(step, action, change)
        try:
            cost = cost_of(action, fixed, fixed.audience)
        except BatonError as error:
            raise EditRefused(f"the edited step's cost cannot be computed ({error})") from None
        fixed = fixed.model_copy(update={"cost": cost})
        remaining = outcome.budget - await self.ctx.store.spent(outcome.id)
        decision = govern(
            fixed,
            action,
            workspace.policy,
            extra_rules=await self.ctx.extra_rules(approval.workspace),
            remaining_budget=remaining,
            steps_today=0,  # the same step, already counted when it was planned
        )
        edits.checked(decision)
        return fixed, edits.record(step, fixed, vote.voter, vote.at)

    def _edit_in(self, commit: Commit, step: Step, edit: Edit, approval: Approval) -> None:
        self._audit(
            commit,
            approval,
            "step.edited",
            actor=edit.by,
            at=edit.at,
            subject=f"step:{step.id}",
            detail={
                "approval": approval.id,
                "diff": edits.diff(edit),
                "before": {"params": edit.params_before, "draft": edit.draft_before},
                "after": {"params": edit.params_after, "draft": edit.draft_after},
                "cost": step.cost,
            },
        )

    def _counted(
        self, before: Approval, after: Approval, outcome: Outcome, vote: Vote, commit: Commit
    ) -> Commit:
        """A vote that does not decide yet: kept on the approval (still pending), audited,
        and the card updated in place for everyone."""
        key = self.ctx.keys.approval(before.id)
        commit.expect(key, ApprovalStatus.PENDING.value)
        commit.write(key, ApprovalStatus.PENDING.value, after.model_dump_json())
        self._audit(
            commit,
            before,
            "approval.voted",
            actor=vote.voter,
            at=vote.at,
            detail={
                **_on_behalf(vote),
                "approvals": len(quorum.approved_by(after)),
                "needed": after.needed,
                "awaiting": list(quorum.awaited(after)),
            },
        )
        return self.ctx.notify(commit, Notice.on_approval(DECIDED, outcome, before))

    async def expire(self, approval_id: str, work: Delivery | None) -> None:
        """The timeout job: the policy's default decides an approval nobody decided (votes
        short of the quorum do not decide it)."""
        for _ in range(ballot.TRIES):
            read = await ballot.version(self.ctx.store, approval_id)
            approval = await self.ctx.store.approval(approval_id)
            if approval.status is not ApprovalStatus.PENDING:
                return
            now = self.ctx.clock.now()
            if now < approval.deadline:
                await self.ctx.queue.schedule(
                    f"approval:{approval.id}",
                    approval.deadline,
                    ExpireApproval(approval=approval.id),
                    workspace=approval.workspace,
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
            commit = ballot.advance_in(Commit(), self.ctx.keys, approval.id, read)
            try:
                settled = await self._settle(
                    approval, after, outcome, actor="policy", commit=commit
                )
                await self.ctx.store.apply(settled, fenced_by=work)
            except TransitionRefused as refused:
                if ballot.raced(refused, self.ctx.keys, approval_id):
                    continue  # a vote came first: look again
                return  # decided by a person in the meantime
            return

    async def _settle(
        self,
        before: Approval,
        after: Approval,
        outcome: Outcome,
        *,
        actor: str,
        commit: Commit,
        edited: Step | None = None,
    ) -> Commit:
        # The step is read after the approval; a concurrent decision may have moved it on.
        # Expect the state a pending approval implies, so that race ends in the store's
        # compare-and-set refusing (one decision wins) rather than in an illegal transition.
        # An edited step is the version approved: it is written, and it is what runs.
        loaded = edited or await self.ctx.store.step(before.step_id)
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
            detail=_decision_detail(after),
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
            self.ctx.queue.enqueue_in(commit, execute_of(step))
        else:
            await self._cancel_dependents(step, commit, actor)
            # Re-plan at once around the decision rather than at the next scheduled tick.
            self.ctx.queue.enqueue_in(commit, Tick(outcome=outcome.id, replan=True))
            if step.case_id is not None:  # the case learns its step will not run
                self.ctx.queue.enqueue_in(commit, RunCase(case=step.case_id))
        return self.ctx.notify(commit, Notice.on_approval(DECIDED, outcome, before))

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

    def _audit(
        self,
        commit: Commit,
        approval: Approval,
        action: str,
        *,
        actor: str,
        at: datetime,
        detail: dict[str, Any],
        subject: str = "",
    ) -> Commit:
        """An audit event about `approval` (or, named by `subject`, its step) in `commit`."""
        return transitions.audit(
            commit,
            self.ctx.keys,
            approval.workspace,
            actor=actor,
            at=at,
            action=action,
            subject=subject or f"approval:{approval.id}",
            outcome_id=approval.outcome_id,
            detail=detail,
        )

    async def _refused(self, approval: Approval, actor: Actor) -> None:
        """Audit a refused attempt, once however often its delivery comes back."""
        commit = self._audit(
            marked(self.ctx.store, actor),
            approval,
            "approval.refused",
            actor=actor.user,
            at=self.ctx.clock.now(),
            detail={"why": "not an approver of this outcome"},
        )
        try:
            await self.ctx.store.apply(commit, fenced_by=actor.work)
        except TransitionRefused as refused:
            if not refused_as_done(refused):
                raise


def _on_behalf(vote: Vote) -> dict[str, str]:
    """`for`: whom a delegate decided for ("approved by @bob for @alice")."""
    return {"for": vote.counts_for} if vote.counts_for != vote.voter else {}


def _decision_detail(approval: Approval) -> dict[str, object]:
    detail: dict[str, object] = {"reason": approval.reason} if approval.reason else {}
    if approval.votes and approval.status is not ApprovalStatus.EXPIRED:
        detail.update(_on_behalf(approval.votes[-1]))
    if not quorum.is_single(approval):
        detail["approved_by"] = list(quorum.approved_by(approval))
        detail["needed"] = approval.needed
    return detail


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
