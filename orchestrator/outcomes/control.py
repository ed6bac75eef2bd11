"""Starting, pausing, resuming and stopping outcomes; the workspace kill switch."""

from __future__ import annotations

from orchestrator.approvals.decide import withdraw_pending
from orchestrator.errors import NotAllowed, TransitionRefused
from orchestrator.models import Measurement, Outcome, OutcomeStatus, Step, StepStatus
from orchestrator.notify.notices import ControlData, Notice, NoticeKind
from orchestrator.outcomes.intake import Intake, IntakeGone, outcome_from
from orchestrator.outcomes.loop import cancel_in_flight
from orchestrator.outcomes.session import Session
from orchestrator.people.actors import (
    Actor,
    check_home,
    check_workspace,
    done_before,
    marked,
    refused_as_done,
)
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import Tick
from orchestrator.steps.govern import execute_of
from orchestrator.store import transitions
from orchestrator.store.commit import Commit

_VERBS = {
    OutcomeStatus.PAUSED: "pause",
    OutcomeStatus.ACTIVE: "resume",
    OutcomeStatus.STOPPED: "stop",
}
"""What a person asked for, by the status it moves an outcome to ("not allowed to pause")."""


class AlreadyConfirmed(TransitionRefused):
    """The Statement of Benefit was confirmed before (a double click or a redelivery)."""


class Control:
    def __init__(self, ctx: Context, intake: Intake) -> None:
        self.ctx = ctx
        self.intake = intake

    async def confirm(self, session_id: str, actor: Actor) -> Outcome:
        """Make the owner's ready Statement of Benefit an active outcome, exactly once; the
        same delivery run again (its worker died after the outcome started) returns it."""
        try:
            session = await self.intake.take(session_id, actor)
        except IntakeGone:
            if not await done_before(self.ctx.store, actor):
                raise
            return await self._confirmed(session_id, actor)
        try:
            outcome = await self._start(session, actor)
        except AlreadyConfirmed:
            # What a run that died after the start left.
            await self.intake.finish(session, actor.work)
            if not await done_before(self.ctx.store, actor):
                raise
            return await self._confirmed(session_id, actor)
        await self.intake.finish(session, actor.work)
        return outcome

    async def _confirmed(self, session_id: str, actor: Actor) -> Outcome:
        """The outcome this very delivery confirmed in an earlier run."""
        outcome = await self.ctx.store.outcome(outcome_id_of(session_id))
        check_home(actor, outcome.conversation, "intake", session_id)
        return outcome

    async def _start(self, session: Session, actor: Actor) -> Outcome:
        workspace = self.ctx.workspace_of(session.workspace)
        now = self.ctx.clock.now()
        outcome = outcome_from(session, outcome_id_of(session.id), workspace, now)
        commit = transitions.record(
            marked(self.ctx.store, actor),
            self.ctx.keys,
            None,
            outcome,
            actor=session.owner,
            at=now,
            action="outcome.confirmed",
            detail={
                "baseline": outcome.baseline,
                "target": outcome.target,
                "deadline": outcome.deadline.isoformat(),
            },
        )
        key = self.ctx.keys.outcome(outcome.id)
        commit.op("HSET", key, "budget", outcome.budget, "spent", 0)
        commit.op("SADD", self.ctx.keys.outcomes_of(outcome.workspace), outcome.id)
        commit.op(
            "SADD",
            self.ctx.keys.workspaces(self.ctx.keys.tag(outcome.workspace)),
            outcome.workspace,
        )
        commit.op(
            "RPUSH",
            self.ctx.keys.measurements(outcome.id),
            Measurement(value=outcome.baseline, at=now).model_dump_json(),
        )
        self.ctx.queue.enqueue_in(commit, Tick(outcome=outcome.id))
        self.ctx.notify(commit, Notice.on_outcome(NoticeKind.STARTED, outcome))
        try:
            await self.ctx.store.apply(commit, fenced_by=actor.work)
        except TransitionRefused as refused:
            raise AlreadyConfirmed(refused.key, refused.expected, refused.actual) from None
        return outcome

    def may_control(self, user: str, outcome: Outcome) -> bool:
        people = self.ctx.workspace_of(outcome.workspace).people
        return user in (outcome.owner, *outcome.approvers, people.owner, *people.on_call)

    def may_control_workspace(self, user: str, workspace: str) -> bool:
        people = self.ctx.workspace_of(workspace).people
        return user in (people.owner, *people.approvers, *people.on_call)

    async def pause(self, outcome_id: str, actor: Actor) -> Outcome:
        return await self._move(outcome_id, actor, OutcomeStatus.PAUSED, (OutcomeStatus.ACTIVE,))

    async def resume(self, outcome_id: str, actor: Actor) -> Outcome:
        return await self._move(outcome_id, actor, OutcomeStatus.ACTIVE, (OutcomeStatus.PAUSED,))

    async def stop(self, outcome_id: str, actor: Actor) -> Outcome:
        return await self._move(
            outcome_id, actor, OutcomeStatus.STOPPED, (OutcomeStatus.ACTIVE, OutcomeStatus.PAUSED)
        )

    async def _move(
        self,
        outcome_id: str,
        actor: Actor,
        target: OutcomeStatus,
        sources: tuple[OutcomeStatus, ...],
    ) -> Outcome:
        """Move the outcome, once: the same delivery run again returns it as it stands."""
        outcome = await self.ctx.store.outcome(outcome_id)
        check_home(actor, outcome.conversation, "outcome", outcome_id)
        user = actor.user
        if not self.may_control(user, outcome):
            raise NotAllowed(user, f"{_VERBS[target]} outcome {outcome_id}")
        if outcome.status not in sources:
            if await done_before(self.ctx.store, actor):
                return outcome
            raise TransitionRefused(
                self.ctx.keys.outcome(outcome_id),
                tuple(s.value for s in sources),
                outcome.status.value,
            )
        now = self.ctx.clock.now()
        after = outcome.model_copy(
            update={"status": target, "ended_at": now if target is OutcomeStatus.STOPPED else None}
        )
        commit = transitions.record(
            marked(self.ctx.store, actor),
            self.ctx.keys,
            outcome,
            after,
            actor=user,
            at=now,
            action=f"outcome.{target.value}",
        )
        history = await self.ctx.store.steps(outcome_id)
        if target is OutcomeStatus.STOPPED:
            # Its pending approvals are withdrawn in this person's name; the rest as ever.
            history = await withdraw_pending(
                self.ctx, history, commit, by=user, reason="outcome stopped"
            )
            await cancel_in_flight(self.ctx, history, commit, reason="outcome stopped")
            self.ctx.queue.cancel_in(commit, f"tick:{outcome_id}")
        if target is OutcomeStatus.ACTIVE:
            self._resume_work(commit, outcome_id, history)
        moved = ControlData(by=user, status=target)
        self.ctx.notify(commit, Notice.on_outcome(NoticeKind.CONTROL, outcome, data=moved))
        try:
            await self.ctx.store.apply(commit, fenced_by=actor.work)
        except TransitionRefused as refused:
            if not refused_as_done(refused):
                raise
            return await self.ctx.store.outcome(outcome_id)
        return after

    def _resume_work(self, commit: Commit, outcome_id: str, history: list[Step]) -> None:
        for step in history:
            if step.status is StepStatus.APPROVED:
                self.ctx.queue.enqueue_in(commit, execute_of(step))
        self.ctx.queue.enqueue_in(commit, Tick(outcome=outcome_id))

    async def pause_all(self, actor: Actor) -> None:
        await self._kill_switch(actor, on=True)

    async def resume_all(self, actor: Actor) -> None:
        await self._kill_switch(actor, on=False)

    async def _kill_switch(self, actor: Actor, *, on: bool) -> None:
        workspace, user = actor.workspace, actor.user
        await check_workspace(self.ctx.store, actor)
        if not self.may_control_workspace(user, workspace):
            raise NotAllowed(user, f"{'pause' if on else 'resume'} all outcomes")
        key = self.ctx.keys.kill_switch(workspace)
        commit = marked(self.ctx.store, actor)
        if on:
            commit.op("SET", key, user)
        else:
            commit.op("DEL", key)
        transitions.audit(
            commit,
            self.ctx.keys,
            workspace,
            actor=user,
            at=self.ctx.clock.now(),
            action="workspace.paused" if on else "workspace.resumed",
            subject=f"workspace:{workspace}",
        )
        if not on:
            for outcome in await self.ctx.store.outcomes(workspace):
                if outcome.status is OutcomeStatus.ACTIVE:
                    self._resume_work(commit, outcome.id, await self.ctx.store.steps(outcome.id))
        try:
            await self.ctx.store.apply(commit, fenced_by=actor.work)
        except TransitionRefused as refused:
            if not refused_as_done(refused):
                raise


def outcome_id_of(session_id: str) -> str:
    """The outcome a confirmed intake session becomes: `i7` becomes `o7`."""
    return f"o{session_id[1:]}"
