"""One tick of one outcome: measure, evaluate, verify, plan, govern, report."""

from __future__ import annotations

from datetime import timedelta

from orchestrator import counters, transitions
from orchestrator import steps as step_ops
from orchestrator.context import Context
from orchestrator.errors import BatonError, TransitionRefused
from orchestrator.evaluate import evaluate
from orchestrator.models import (
    ApprovalStatus,
    Evaluation,
    Measurement,
    Outcome,
    OutcomeStatus,
    Step,
    StepStatus,
    Verdict,
)
from orchestrator.notices import Notice, NoticeKind
from orchestrator.planner import IN_FLIGHT, PlanInput, Planner
from orchestrator.runtime_ops import resolve_source_down
from orchestrator.store.commit import Commit

TICK_JOB = "tick"
LEASE_MS = 60_000
MEASURE_FAILURES_FOR_INCIDENT = 3
VERIFY_WINDOW = timedelta(days=30)


class Loop:
    def __init__(self, ctx: Context, planner: Planner, *, worker_id: str = "worker") -> None:
        self.ctx = ctx
        self.planner = planner
        self.worker_id = worker_id

    async def tick(self, outcome_id: str) -> None:
        """Run one tick unless another worker holds the outcome's lease."""
        subject = f"outcome:{outcome_id}"
        if not await self.ctx.store.acquire(subject, self.worker_id, LEASE_MS):
            return
        await counters.bump(self.ctx.store.redis, self.ctx.keys, counters.TICKS)
        try:
            await self._tick(await self.ctx.store.outcome(outcome_id))
        finally:
            await self.ctx.store.release(subject, self.worker_id)

    async def _tick(self, outcome: Outcome) -> None:
        if outcome.status is not OutcomeStatus.ACTIVE:
            return
        if await self.ctx.store.kill_switch(outcome.workspace):
            await self._schedule_next(outcome)
            return
        value = await self._measure(outcome)
        if value is None:
            await self._schedule_next(outcome)
            return
        now = self.ctx.clock.now()
        evaluation = evaluate(outcome, value, now)
        history = await self.ctx.store.steps(outcome.id)
        await self._verify(outcome, value, history)
        if evaluation.verdict in (Verdict.ACHIEVED, Verdict.MISSED):
            await self._end(outcome, evaluation, history)
            return
        await self._advance_ready(outcome, history)
        if not any(s.status in IN_FLIGHT for s in history):
            await self._plan(outcome, evaluation, await self.ctx.store.steps(outcome.id))
        await self._report(outcome, evaluation)

    async def _measure(self, outcome: Outcome) -> float | None:
        workspace = self.ctx.workspace_of(outcome.workspace)
        metric = workspace.metrics[outcome.metric]
        now = self.ctx.clock.now()
        key = self.ctx.keys.outcome(outcome.id)
        # The failure count before this reading says whether a page is open to resolve.
        was_failing = await self.ctx.store.redis.hget(key, "measure_failures")
        try:
            value = (
                await self.ctx.connectors_of(outcome.workspace)
                .get(metric.connection)
                .measure(metric=metric)
            )
        except BatonError as error:
            failures = int(await self.ctx.store.redis.hincrby(key, "measure_failures", 1))
            commit = transitions.audit(
                Commit(),
                self.ctx.keys,
                outcome.workspace,
                actor="system",
                at=now,
                action="measurement.failed",
                subject=f"outcome:{outcome.id}",
                outcome_id=outcome.id,
                detail={"error": str(error), "failures": failures},
            )
            if failures == MEASURE_FAILURES_FOR_INCIDENT:
                self.ctx.notify(
                    commit,
                    Notice(
                        kind=NoticeKind.INCIDENT,
                        conversation=outcome.conversation,
                        outcome_id=outcome.id,
                        text=str(error),
                        data={"incident": "metric_source_down", "failures": failures},
                    ),
                )
            await self.ctx.store.apply(commit)
            return None
        commit = Commit().op(
            "RPUSH",
            self.ctx.keys.measurements(outcome.id),
            Measurement(value=value, at=now).model_dump_json(),
        )
        commit.op("HSET", key, "measure_failures", 0)
        if int(was_failing or 0) >= MEASURE_FAILURES_FOR_INCIDENT:
            resolve_source_down(self.ctx, commit, outcome)
        transitions.audit(
            commit,
            self.ctx.keys,
            outcome.workspace,
            actor="system",
            at=now,
            action="measurement.recorded",
            subject=f"outcome:{outcome.id}",
            outcome_id=outcome.id,
            detail={"metric": outcome.metric, "value": value},
        )
        await self.ctx.store.apply(commit)
        return value

    async def _verify(self, outcome: Outcome, value: float, history: list[Step]) -> None:
        """Record the metric's movement since each recently finished step against it."""
        now = self.ctx.clock.now()
        commit = Commit()
        for step in history:
            if (
                step.status is StepStatus.SUCCEEDED
                and step.value_at_finish is not None
                and step.finished_at
                and now - step.finished_at <= VERIFY_WINDOW
            ):
                effect = round(value - step.value_at_finish, 6)
                if effect != step.effect:
                    transitions.record(
                        commit,
                        self.ctx.keys,
                        step,
                        step.model_copy(update={"effect": effect}),
                        actor="system",
                        at=now,
                        action="step.verified",
                        detail={"effect": effect},
                    )
                    if step.decision.startswith("approve"):
                        # A person decided it: their approval card learns what it paid off.
                        self.ctx.notify(commit, _effect_notice(outcome, step))
        if commit.writes:
            await self.ctx.store.apply(commit)

    async def _advance_ready(self, outcome: Outcome, history: list[Step]) -> None:
        """Govern planned steps whose inputs are ready (also recovers an interrupted plan)."""
        by_id = {s.id: s for s in history}
        for step in history:
            if step.status is not StepStatus.PLANNED:
                continue
            upstream = by_id.get(step.depends_on or "")
            if upstream is not None and upstream.status is not StepStatus.SUCCEEDED:
                continue
            inputs = upstream.output if upstream is not None else {}
            commit = Commit()
            await step_ops.make_ready(
                self.ctx,
                outcome,
                step,
                inputs,
                commit,
                step_ops.steps_on(self.ctx.clock.now(), history),
            )
            try:
                await self.ctx.store.apply(commit)
            except TransitionRefused:
                continue  # another worker governed it first

    async def _plan(self, outcome: Outcome, evaluation: Evaluation, history: list[Step]) -> None:
        workspace = self.ctx.workspace_of(outcome.workspace)
        now = self.ctx.clock.now()
        proposals = await self.planner.propose(
            PlanInput(
                outcome=outcome,
                evaluation=evaluation,
                history=history,
                workspace=workspace,
                now=now,
                rules=await self.ctx.extra_rules(outcome.workspace),
            )
        )
        if not proposals:
            return
        commit = Commit()
        created = await step_ops.create(self.ctx, outcome, proposals, commit)
        rejected = [s for s in history if s.status is StepStatus.REJECTED]
        self.ctx.notify(
            commit,
            Notice(
                kind=NoticeKind.PLAN,
                conversation=outcome.conversation,
                outcome_id=outcome.id,
                data={
                    "steps": [s.id for s in created],
                    "play": proposals[0].play,
                    "rationale": proposals[0].rationale,
                    "verdict": evaluation.verdict.value,
                    "around": [s.id for s in rejected[-1:]],
                },
            ),
        )
        await self.ctx.store.apply(commit)
        await self._advance_ready(outcome, await self.ctx.store.steps(outcome.id))

    async def _end(self, outcome: Outcome, evaluation: Evaluation, history: list[Step]) -> None:
        status = (
            OutcomeStatus.ACHIEVED
            if evaluation.verdict is Verdict.ACHIEVED
            else OutcomeStatus.MISSED
        )
        now = self.ctx.clock.now()
        ended = outcome.model_copy(update={"status": status, "ended_at": now})
        commit = transitions.record(
            Commit(),
            self.ctx.keys,
            outcome,
            ended,
            actor="system",
            at=now,
            action=f"outcome.{status.value}",
            detail={"value": evaluation.value},
        )
        await cancel_in_flight(self.ctx, history, commit, reason=f"outcome {status.value}")
        self.ctx.queue.cancel_in(commit, f"tick:{outcome.id}")
        self.ctx.notify(
            commit,
            Notice(
                kind=NoticeKind.ENDED,
                conversation=outcome.conversation,
                outcome_id=outcome.id,
                data={"evaluation": evaluation.model_dump(mode="json")},
            ),
        )
        await self.ctx.store.apply(commit)

    async def _report(self, outcome: Outcome, evaluation: Evaluation) -> None:
        commit = self.ctx.notify(
            Commit(),
            Notice(
                kind=NoticeKind.PROGRESS,
                conversation=outcome.conversation,
                outcome_id=outcome.id,
                data={"evaluation": evaluation.model_dump(mode="json")},
            ),
        )
        self._schedule(outcome, commit)
        await self.ctx.store.apply(commit)

    async def _schedule_next(self, outcome: Outcome) -> None:
        await self.ctx.store.apply(self._schedule(outcome, Commit()))

    def _schedule(self, outcome: Outcome, commit: Commit) -> Commit:
        due = self.ctx.clock.now() + timedelta(seconds=outcome.check_every_s)
        return self.ctx.queue.schedule_in(
            commit, f"tick:{outcome.id}", due, TICK_JOB, {"outcome": outcome.id}
        )


def _effect_notice(outcome: Outcome, step: Step) -> Notice:
    return Notice(
        kind=NoticeKind.EFFECT_MEASURED,
        conversation=outcome.conversation,
        outcome_id=outcome.id,
        step_id=step.id,
        approval_id=step_ops.approval_id_for(step.id),
    )


async def cancel_in_flight(
    ctx: Context, history: list[Step], commit: Commit, *, reason: str
) -> None:
    """Cancel steps that have not started and withdraw their approvals."""
    now = ctx.clock.now()
    for step in history:
        if step.status in (StepStatus.PLANNED, StepStatus.APPROVED, StepStatus.AWAITING_APPROVAL):
            transitions.record(
                commit,
                ctx.keys,
                step,
                step.model_copy(update={"status": StepStatus.CANCELLED}),
                actor="system",
                at=now,
                action="step.cancelled",
                detail={"because": reason},
            )
        if step.status is StepStatus.AWAITING_APPROVAL:
            approval = await ctx.store.approval(step_ops.approval_id_for(step.id))
            withdrawn = approval.model_copy(
                update={
                    "status": ApprovalStatus.EXPIRED,
                    "decided_at": now,
                    "reason": f"withdrawn: {reason}",
                }
            )
            transitions.record(
                commit,
                ctx.keys,
                approval,
                withdrawn,
                actor="system",
                at=now,
                action="approval.withdrawn",
                detail={"because": reason},
            )
            commit.op("SREM", ctx.keys.pending_approvals(step.workspace), approval.id)
            ctx.queue.cancel_in(commit, f"approval:{approval.id}")
