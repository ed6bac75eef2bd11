"""One tick of one outcome: measure, evaluate, verify, plan, govern, report."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from orchestrator.errors import BatonError, TransitionRefused
from orchestrator.learning.evidence import Evidence, Key, library
from orchestrator.learning.verify import due, measurable
from orchestrator.learning.verify import measure as measure_effect
from orchestrator.models import (
    ApprovalStatus,
    Evaluation,
    Lane,
    Measurement,
    Outcome,
    OutcomeStatus,
    Step,
    StepStatus,
    Verdict,
)
from orchestrator.notify.notices import (
    EndedData,
    IncidentData,
    Notice,
    NoticeKind,
    PlanData,
    ProgressData,
)
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import Tick
from orchestrator.runtime.ops import resolve_source_down
from orchestrator.runtime.queue import Delivery
from orchestrator.steps import govern as step_ops
from orchestrator.steps.execute import Executor
from orchestrator.steps.planner import IN_FLIGHT, PlanInput, Planner
from orchestrator.store import counters, gauges, transitions
from orchestrator.store.commit import Commit
from orchestrator.store.keys import SAME_SLOT
from orchestrator.store.redis_store import TickSnapshot
from orchestrator.workspace.catalog import Rule

LEASE_MS = 60_000
MEASURE_FAILURES_FOR_INCIDENT = 3
VERIFY_WINDOW = timedelta(days=30)

log = logging.getLogger("baton.loop")


class Loop:
    """Ticks target outcomes. A steady tick costs two Redis round trips: one script that
    reads the outcome, takes its lease and reads the rest; and one closing commit
    (measurement, verification, any plan and its governance, the start of its
    auto-approved step, report, next timer, lease release, and the tick job's
    acknowledgement). A step it starts costs one more, its finishing commit; new steps'
    ids cost one only when the process's block of ids runs out."""

    def __init__(
        self,
        ctx: Context,
        planner: Planner,
        *,
        worker_id: str = "worker",
        executor: Executor | None = None,
    ) -> None:
        self.ctx = ctx
        self.planner = planner
        self.worker_id = worker_id
        self.executor = executor
        """With an executor, the tick runs the first step its plan auto-approves itself,
        started in the closing commit (no execute job, no re-read); without, every approved
        step gets an execute job."""

    async def tick(self, outcome_id: str, work: Delivery | None) -> bool:
        """Run one tick unless another worker holds the outcome's lease; `work`, the tick
        job being handled (None outside one), fences its commits and is acknowledged by
        its closing commit.

        False for a standing outcome: its ticks are not this loop's."""
        today = self.ctx.clock.now().date()
        snapshot = await self.ctx.store.tick_snapshot(outcome_id, self.worker_id, LEASE_MS, today)
        if not isinstance(snapshot, TickSnapshot):
            return snapshot != "standing"
        lease = self.ctx.keys.lease(f"outcome:{outcome_id}")
        closing = Commit().op("RELEASE", lease, self.worker_id)
        closing.op("HINCRBY", self.ctx.keys.counters(SAME_SLOT), counters.TICKS, 1)
        closed = False
        started: list[Callable[[], Awaitable[None]]] = []
        try:
            closed = await self._tick(snapshot, closing, started, work)
        finally:
            if not closed:  # the closing commit did not run: release the lease here
                await self.ctx.store.release(f"outcome:{outcome_id}", self.worker_id)
        for run in started:  # after the lease's release: a slow step holds no outcome
            await run()
        return True

    async def _tick(
        self,
        snapshot: TickSnapshot,
        closing: Commit,
        started: list[Callable[[], Awaitable[None]]],
        work: Delivery | None,
    ) -> bool:
        """One tick; True once the closing commit (with the lease release) has run, with
        the steps it started in `started`."""
        outcome = snapshot.outcome
        if outcome.status is not OutcomeStatus.ACTIVE:
            return False
        if snapshot.paused_all:
            return await self._close(self._schedule(outcome, closing), work)
        value = await self._measure(snapshot, closing)
        if value is None:
            return await self._close(self._schedule(outcome, closing), work)
        evaluation = evaluate(outcome, value, self.ctx.clock.now())
        gauges.judged(closing, self.ctx.keys, snapshot, evaluation, self.ctx.clock.now())
        history = snapshot.history
        ending = evaluation.verdict in (Verdict.ACHIEVED, Verdict.MISSED)
        await self._verify(outcome, value, history, closing, ending=ending)
        if ending:
            return await self._end(outcome, evaluation, history, closing, work)
        history = await self._advance_ready(snapshot, history, work)
        # A plan and its governance go first, as when they were commits of their own.
        planned = Commit()
        auto: list[Step] = []
        if not any(s.status in IN_FLIGHT for s in history):
            auto, history = await self._plan(snapshot, evaluation, history, planned, work)
        closing = planned.then(self._report(outcome, evaluation, closing))
        running = await self._close_starting(closing, auto, work)
        if running is None or self.executor is None:
            return True
        run_started = self.executor.run_started
        history = [running if s.id == running.id else s for s in history]
        started.append(
            lambda: run_started(running, outcome, latest=value, history=history, work=work)
        )
        return True

    async def _close(self, commit: Commit, work: Delivery | None) -> bool:
        """Apply the tick's closing commit, which acknowledges its job."""
        await self.ctx.store.apply(self.ctx.queue.ack_in(commit, work), fenced_by=work)
        return True

    async def _close_starting(
        self, closing: Commit, auto: list[Step], work: Delivery | None
    ) -> Step | None:
        """Close the tick, starting the first auto-approved step in the same commit (the
        others get execute jobs); the step as started, if it was. Should the start be
        refused (paused, the kill switch, the budget, since the tick began), the tick closes
        with an execute job for it instead, which decides as any execution does."""
        queued = auto if self.executor is None else auto[1:]
        for step in queued:
            self.ctx.queue.enqueue_in(closing, step_ops.execute_of(step))
        if not auto or self.executor is None:
            await self._close(closing, work)
            return None
        starting = Commit().then(closing)
        running = self.executor.start_in(starting, auto[0])
        try:
            await self._close(starting, work)
        except TransitionRefused:
            self.ctx.queue.enqueue_in(closing, step_ops.execute_of(auto[0]))
            await self._close(closing, work)
            return None
        return running

    async def _measure(self, snapshot: TickSnapshot, closing: Commit) -> float | None:
        """Read the metric; the reading (or the failure) is recorded by the closing commit."""
        outcome = snapshot.outcome
        metric = self.ctx.workspace_of(outcome.workspace).metrics[outcome.metric]
        connector = self.ctx.connectors_of(outcome.workspace).get(metric.connection)
        try:
            value = await connector.measure(metric=metric)
        except BatonError as error:
            self._measure_failed(snapshot, closing, error)
            return None
        now = self.ctx.clock.now()
        key = self.ctx.keys.outcome(outcome.id)
        closing.op(
            "RPUSH",
            self.ctx.keys.measurements(outcome.id),
            Measurement(value=value, at=now).model_dump_json(),
        )
        closing.op("HSET", key, "measure_failures", 0)
        if snapshot.measure_failures >= MEASURE_FAILURES_FOR_INCIDENT:
            resolve_source_down(self.ctx, closing, outcome)
        transitions.audit(
            closing,
            self.ctx.keys,
            outcome.workspace,
            actor="system",
            at=now,
            action="measurement.recorded",
            subject=f"outcome:{outcome.id}",
            outcome_id=outcome.id,
            detail={"metric": outcome.metric, "value": value},
        )
        return value

    def _measure_failed(self, snapshot: TickSnapshot, closing: Commit, error: BatonError) -> None:
        outcome = snapshot.outcome
        failures = snapshot.measure_failures + 1  # the lease makes this tick the only writer
        closing.op("HSET", self.ctx.keys.outcome(outcome.id), "measure_failures", failures)
        transitions.audit(
            closing,
            self.ctx.keys,
            outcome.workspace,
            actor="system",
            at=self.ctx.clock.now(),
            action="measurement.failed",
            subject=f"outcome:{outcome.id}",
            outcome_id=outcome.id,
            detail={"error": str(error), "failures": failures},
        )
        if failures == MEASURE_FAILURES_FOR_INCIDENT:
            said = IncidentData(incident="metric_source_down", failures=failures)
            notice = Notice.on_outcome(NoticeKind.INCIDENT, outcome, text=str(error), data=said)
            self.ctx.notify(closing, notice)

    async def _verify(
        self, outcome: Outcome, value: float, history: list[Step], closing: Commit, *, ending: bool
    ) -> None:
        """Credit the steps that act. One with a control group gets its incremental effect
        once its window has passed (at once, marked early, when the outcome ends); one
        without gets the metric's movement since it ran, shown as not measured causally.
        Lookups and drafts are credited with nothing."""
        now = self.ctx.clock.now()
        workspace = self.ctx.workspace_of(outcome.workspace)
        metric = workspace.metrics[outcome.metric]
        for step in history:
            if step.status is not StepStatus.SUCCEEDED or not step.finished_at:
                continue
            if step.lane in (Lane.LOGIC, Lane.INTELLIGENCE):
                continue
            if measurable(step, metric):
                verified = await self._incremental(outcome, step, now, ending=ending)
            else:
                verified = _before_after(step, value, now)
            if verified is None:
                continue
            step_after, detail = verified
            transitions.record(
                closing,
                self.ctx.keys,
                step,
                step_after,
                actor="system",
                at=now,
                action="step.verified",
                detail=detail,
            )
            if step.decision.startswith("approve"):
                # A person decided it: their approval card learns what it paid off.
                self.ctx.notify(closing, _effect_notice(outcome, step))

    async def _incremental(
        self, outcome: Outcome, step: Step, now: datetime, *, ending: bool
    ) -> tuple[Step, dict[str, Any]] | None:
        """The step with its incremental effect, when it is due and not yet read."""
        workspace = self.ctx.workspace_of(outcome.workspace)
        action = workspace.actions[step.action]
        if step.incremental is not None or not (ending or due(step, action, now)):
            return None
        connectors = self.ctx.connectors_of(outcome.workspace)
        try:
            effect = await measure_effect(
                step, workspace, outcome.metric, connectors, now, early=not due(step, action, now)
            )
        except BatonError as error:  # read again next tick
            log.warning("effect of step %s not read: %s", step.id, error)
            return None
        detail = effect.model_dump(mode="json", exclude_none=True)
        return step.model_copy(update={"incremental": effect}), detail

    async def _advance_ready(
        self, snapshot: TickSnapshot, history: list[Step], work: Delivery | None
    ) -> list[Step]:
        """Govern planned steps whose inputs are ready (recovers an interrupted plan), each
        in a commit of its own: a refusal means another worker governed it first.

        Returns the history with the governed steps as they now are."""
        by_id = {s.id: s for s in history}
        ready = [s for s in history if s.status is StepStatus.PLANNED and _inputs_ready(s, by_id)]
        if not ready:
            return history
        rules = await self.ctx.extra_rules(snapshot.outcome.workspace)
        for step in ready:
            commit = Commit()
            governed = await self._govern(snapshot, step, by_id, commit, history, rules)
            try:
                await self.ctx.store.apply(commit, fenced_by=work)
            except TransitionRefused:
                continue  # another worker governed it first
            by_id[step.id] = governed
        return [by_id[s.id] for s in history]

    async def _govern(
        self,
        snapshot: TickSnapshot,
        step: Step,
        by_id: dict[str, Step],
        commit: Commit,
        history: list[Step],
        rules: list[Rule],
        *,
        queue_execution: bool = True,
    ) -> Step:
        upstream = by_id.get(step.depends_on or "")
        return await step_ops.make_ready(
            self.ctx,
            snapshot.outcome,
            step,
            upstream.output if upstream else {},
            commit,
            step_ops.steps_on(self.ctx.clock.now(), history) + snapshot.earlier_today,
            spent=snapshot.spent,
            rules=rules,
            queue_execution=queue_execution,
        )

    async def _plan(
        self,
        snapshot: TickSnapshot,
        evaluation: Evaluation,
        history: list[Step],
        commit: Commit,
        work: Delivery | None,
    ) -> tuple[list[Step], list[Step]]:
        """Plan into `commit`: the new steps, the plan's notice, and the governance of the
        new steps whose inputs are ready (planned and governed in the same commit).

        Returns the steps policy approved, for the caller to execute, and the history with
        the new steps as the commit leaves them."""
        outcome = snapshot.outcome
        workspace = self.ctx.workspace_of(outcome.workspace)
        rules = await self.ctx.extra_rules(outcome.workspace)
        proposals = await self.planner.propose(
            PlanInput(
                outcome=outcome,
                evaluation=evaluation,
                history=history,
                workspace=workspace,
                now=self.ctx.clock.now(),
                rules=rules,
                evidence=await self._evidence(outcome),
                work=work,
            )
        )
        if not proposals:
            return [], history
        created = await step_ops.create(self.ctx, outcome, proposals, commit)
        gauges.proposed(commit, self.ctx.keys, snapshot, evaluation, self.ctx.clock.now())
        rejected = [s for s in history if s.status is StepStatus.REJECTED]
        plan = PlanData(
            steps=tuple(s.id for s in created),
            play=proposals[0].play,
            rationale=proposals[0].rationale,
            verdict=evaluation.verdict,
            around=tuple(s.id for s in rejected[-1:]),
        )
        self.ctx.notify(commit, Notice.on_outcome(NoticeKind.PLAN, outcome, data=plan))
        everything = [*history, *created]
        by_id = {s.id: s for s in everything}
        approved: list[Step] = []
        for step in created:
            if _inputs_ready(step, by_id):
                governed = await self._govern(
                    snapshot, step, by_id, commit, everything, rules, queue_execution=False
                )
                by_id[step.id] = governed
                if governed.status is StepStatus.APPROVED:
                    approved.append(governed)
        return approved, [by_id[s.id] for s in everything]

    async def _evidence(self, outcome: Outcome) -> dict[Key, Evidence]:
        """The evidence on the outcome's metric; none to read (no round trips) when the
        metric cannot be read per entity, so no step on it was ever measured."""
        metric = self.ctx.workspace_of(outcome.workspace).metrics[outcome.metric]
        if not metric.entity_query:
            return {}
        return await library(self.ctx.store, outcome.workspace, outcome.metric)

    async def _end(
        self,
        outcome: Outcome,
        evaluation: Evaluation,
        history: list[Step],
        closing: Commit,
        work: Delivery | None,
    ) -> bool:
        status = (
            OutcomeStatus.ACHIEVED
            if evaluation.verdict is Verdict.ACHIEVED
            else OutcomeStatus.MISSED
        )
        now = self.ctx.clock.now()
        ended = outcome.model_copy(update={"status": status, "ended_at": now})
        transitions.record(
            closing,
            self.ctx.keys,
            outcome,
            ended,
            actor="system",
            at=now,
            action=f"outcome.{status.value}",
            detail={"value": evaluation.value},
        )
        await cancel_in_flight(self.ctx, history, closing, reason=f"outcome {status.value}")
        self.ctx.queue.cancel_in(closing, f"tick:{outcome.id}")
        ended_with = EndedData(evaluation=evaluation)
        self.ctx.notify(closing, Notice.on_outcome(NoticeKind.ENDED, outcome, data=ended_with))
        return await self._close(closing, work)

    def _report(self, outcome: Outcome, evaluation: Evaluation, closing: Commit) -> Commit:
        progress = ProgressData(evaluation=evaluation)
        self.ctx.notify(closing, Notice.on_outcome(NoticeKind.PROGRESS, outcome, data=progress))
        return self._schedule(outcome, closing)

    def _schedule(self, outcome: Outcome, commit: Commit) -> Commit:
        due = self.ctx.clock.now() + timedelta(seconds=outcome.check_every_s)
        return self.ctx.queue.schedule_in(
            commit, f"tick:{outcome.id}", due, Tick(outcome=outcome.id)
        )


def _before_after(step: Step, value: float, now: datetime) -> tuple[Step, dict[str, Any]] | None:
    """The metric's movement since a step without a control group finished: before and
    after, not a measured effect (the trend moves it as much as the step)."""
    if step.value_at_finish is None or not step.finished_at:
        return None
    if now - step.finished_at > VERIFY_WINDOW:
        return None
    effect = round(value - step.value_at_finish, 6)
    if effect == step.effect:
        return None
    return step.model_copy(update={"effect": effect}), {"effect": effect, "causal": False}


def _inputs_ready(step: Step, by_id: dict[str, Step]) -> bool:
    upstream = by_id.get(step.depends_on or "")
    return upstream is None or upstream.status is StepStatus.SUCCEEDED


def _effect_notice(outcome: Outcome, step: Step) -> Notice:
    approval_id = step_ops.approval_id_for(step.id)
    kind = NoticeKind.EFFECT_MEASURED
    return Notice.on_outcome(kind, outcome, step_id=step.id, approval_id=approval_id)


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
