"""Executing a step: at most once, checked atomically against pause, kill switch and budget."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from orchestrator.errors import BatonError, ConnectorError, TransitionRefused
from orchestrator.learning import holdout
from orchestrator.models import Outcome, OutcomeStatus, Step, StepStatus
from orchestrator.notify.notices import IncidentData, Notice, NoticeKind
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import RunCase
from orchestrator.runtime.queue import Delivery
from orchestrator.steps import govern as step_ops
from orchestrator.steps.lanes import LaneInput, Lanes
from orchestrator.store import transitions
from orchestrator.store.commit import Commit

LEASE_MS = 120_000

log = logging.getLogger("baton.execute")


def watchdog_id(step_id: str) -> str:
    """The timer that runs a step started in a tick should its worker die before it ends."""
    return f"execute:{step_id}"


class RetryLater(BatonError):
    """A transient failure: the job runs again with backoff; the step stays `running`."""


class Executor:
    def __init__(self, ctx: Context, lanes: Lanes, *, worker_id: str = "worker") -> None:
        self.ctx = ctx
        self.lanes = lanes
        self.worker_id = worker_id
        self.watchdog_s = 30.0
        """How long a step started in a tick may run before its worker is presumed dead
        and an execute job takes the step over (the worker's visibility timeout)."""

    async def execute(
        self,
        step_id: str,
        *,
        work: Delivery | None,
        last_attempt: bool = False,
        outcome_id: str | None = None,
    ) -> None:
        """The execute job. Safe to run again: a finished step is left alone.

        `work`, the job being handled (None outside one), fences its commits and is
        acknowledged by the finishing commit. `outcome_id`, when the job names the step's
        outcome, lets both be read at once."""
        step, outcome = await self._load(step_id, outcome_id)
        subject = f"step:{step.id}"
        if step.status is StepStatus.APPROVED:
            started = await self._start(step, work)  # takes the step's lease in the same commit
            if started is None:
                return
            step = started
        elif step.status is not StepStatus.RUNNING:
            return
        elif not await self.ctx.store.acquire(subject, self.worker_id, LEASE_MS):
            return  # another worker is running it right now
        released = False
        try:
            outcome = outcome or await self.ctx.store.outcome(step.outcome_id)
            released = await self._run(step, outcome, work=work, last_attempt=last_attempt)
        finally:
            if not released:  # the finishing commit did not run: release the lease here
                await self.ctx.store.release(subject, self.worker_id)

    async def _load(self, step_id: str, outcome_id: str | None) -> tuple[Step, Outcome | None]:
        if outcome_id is None:
            return await self.ctx.store.step(step_id), None
        step, outcome = await self.ctx.store.step_and_outcome(step_id, outcome_id)
        return step, outcome if outcome.id == step.outcome_id else None

    async def _start(self, step: Step, work: Delivery | None) -> Step | None:
        """Start `step` in a commit of its own (`_starting`); None if that is refused: a
        step over budget is cancelled, a paused or stopped one stays approved."""
        commit = Commit()
        running = self._starting(commit, step)
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused as refused:
            if refused.reason == "over budget":
                await self._cancel(step, "over budget at execution", work)
            return None  # paused or stopped: it stays approved until resumed
        return running

    def start_in(self, commit: Commit, step: Step) -> Step:
        """Add `approved -> running` to a tick's closing commit, with the same checks as
        an execute job's start, and arm a watchdog timer: should this worker die before the
        step ends, an execute job takes it over after `watchdog_s`. The finishing commit
        disarms it. Run the step with `run_started` once the commit has applied."""
        running = self._starting(commit, step)
        self._run_later(commit, step, self.watchdog_s, take_over=True)
        return running

    async def run_started(
        self,
        step: Step,
        outcome: Outcome,
        *,
        latest: float,
        history: list[Step],
        work: Delivery | None,
    ) -> None:
        """Run a step `start_in` started, given the tick's reading and step history (the
        step in flight keeps other ticks from planning meanwhile, so they still hold).

        A failure hands the step to an execute job, which retries with backoff and
        dead-letters as any job does; should that hand-over fail too (Redis away), the
        watchdog still takes the step over."""
        try:
            await self._run(step, outcome, work=work, last_attempt=False, known=(latest, history))
        except Exception as error:  # noqa: BLE001 - the execute job retries, then dead-letters
            kind = type(error).__name__
            log.warning("step %s handed to an execute job: %s: %s", step.id, kind, error)
            await self._hand_over(step, work)

    async def _hand_over(self, step: Step, work: Delivery | None) -> None:
        commit = Commit().op("RELEASE", self.ctx.keys.lease(f"step:{step.id}"), self.worker_id)
        self._run_later(commit, step, 1.0, take_over=False)
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except Exception:  # the armed watchdog takes the step over
            log.exception("step %s left to its watchdog", step.id)

    def _run_later(self, commit: Commit, step: Step, after_s: float, *, take_over: bool) -> None:
        """Set the step's watchdog timer: an execute job after `after_s`, which takes the
        step's lease over if `take_over` (its holder is presumed dead by then)."""
        due = self.ctx.clock.now() + timedelta(seconds=after_s)
        run = step_ops.execute_of(step).model_copy(update={"watchdog": take_over})
        self.ctx.queue.schedule_in(commit, watchdog_id(step.id), due, run)

    def _starting(self, commit: Commit, step: Step) -> Step:
        """`approved -> running` into `commit`, only while the outcome is active and within
        budget, taking the step's lease (the compare-and-set makes this worker the only one
        that can start it, so no other worker holds that lease)."""
        outcome_key = self.ctx.keys.outcome(step.outcome_id)
        now = self.ctx.clock.now()
        running = step.model_copy(update={"status": StepStatus.RUNNING})
        commit.expect(outcome_key, OutcomeStatus.ACTIVE.value)
        commit.absent(self.ctx.keys.kill_switch(step.workspace), "paused for the workspace")
        commit.within_budget(outcome_key, step.cost)
        transitions.record(
            commit,
            self.ctx.keys,
            step,
            running,
            actor="system",
            at=now,
            action="step.running",
            detail={"cost": step.cost},
        )
        if step.cost:
            commit.op("HINCRBYFLOAT", outcome_key, "spent", step.cost)
        lease = self.ctx.keys.lease(f"step:{step.id}")
        commit.op("SET", lease, self.worker_id, "PX", LEASE_MS)
        return running

    async def _run(
        self,
        step: Step,
        outcome: Outcome,
        *,
        work: Delivery | None,
        last_attempt: bool,
        known: tuple[float | None, list[Step]] | None = None,
    ) -> bool:
        """Run the step in its lane and finish it; True once the finishing commit (which
        releases the step's lease) has run. `known`: the metric's latest value and the
        outcome's steps, when the caller has them (else they are read before finishing)."""
        workspace = self.ctx.workspace_of(step.workspace)
        lane_input = LaneInput(
            step=step,
            action=workspace.actions[step.action],
            outcome=outcome,
            workspace=workspace,
            upstream=_acted_on(step),
            connectors=self.ctx.connectors_of(step.workspace),
            shadow=step.shadow,
            work=work,
        )
        try:
            output = await self.lanes.run(lane_input)
        except BatonError as error:
            transient = isinstance(error, ConnectorError) and error.transient
            if transient and not last_attempt:
                raise RetryLater(str(error)) from error
            # A transient failure that outlived every retry is an outage: page on-call.
            failed = str(error)
            await self._finish(step, outcome, known, work, failed=failed, incident=transient)
            return True
        await self._finish(step, outcome, known, work, output=output)
        return True

    async def _finish(
        self,
        step: Step,
        outcome: Outcome,
        known: tuple[float | None, list[Step]] | None,
        work: Delivery | None,
        *,
        output: dict[str, Any] | None = None,
        failed: str = "",
        incident: bool = False,
    ) -> None:
        now = self.ctx.clock.now()
        latest, history = known or await self.ctx.store.latest_and_steps(outcome.id)
        status = StepStatus.FAILED if failed else StepStatus.SUCCEEDED
        done = step.model_copy(
            update={
                "status": status,
                "finished_at": now,
                "error": failed,
                "output": output if output is not None else step.output,
                "value_at_finish": latest,
            }
        )
        commit = transitions.record(
            Commit(),
            self.ctx.keys,
            step,
            done,
            actor="system",
            at=now,
            action=f"step.{status.value}",
            detail={"error": failed} if failed else _summary(done),
        )
        if failed and step.cost:
            commit.op("HINCRBYFLOAT", self.ctx.keys.outcome(outcome.id), "spent", -step.cost)
        if output and "post" in output and not step.shadow:
            post = str(output["post"])
            self.ctx.notify(commit, Notice.on_step(NoticeKind.CHAT, outcome, step, text=post))
        kind = NoticeKind.STEP_FAILED if failed else NoticeKind.STEP_FINISHED
        self.ctx.notify(commit, Notice.on_step(kind, outcome, step, text=failed))
        if incident:
            what = f"step {step.id} ({step.action}) failed after retries: {failed}"
            said = IncidentData(incident="action_failing", step=step.id)
            self.ctx.notify(
                commit, Notice.on_step(NoticeKind.INCIDENT, outcome, step, text=what, data=said)
            )
        await self._ready_dependents(done, outcome, commit, history)
        if done.case_id is not None:  # a case's decided step: the case carries on
            self.ctx.queue.enqueue_in(commit, RunCase(case=done.case_id))
        commit.op("RELEASE", self.ctx.keys.lease(f"step:{step.id}"), self.worker_id)
        self.ctx.queue.cancel_in(commit, watchdog_id(step.id))
        await self.ctx.store.apply(self.ctx.queue.ack_in(commit, work), fenced_by=work)

    async def _ready_dependents(
        self, done: Step, outcome: Outcome, commit: Commit, history: list[Step]
    ) -> None:
        for other in history:
            if other.depends_on != done.id or other.status is not StepStatus.PLANNED:
                continue
            if done.status is StepStatus.SUCCEEDED:
                await step_ops.make_ready(
                    self.ctx,
                    outcome,
                    other,
                    done.output,
                    commit,
                    step_ops.steps_on(self.ctx.clock.now(), history),
                )
            else:
                transitions.record(
                    commit,
                    self.ctx.keys,
                    other,
                    other.model_copy(update={"status": StepStatus.CANCELLED}),
                    actor="system",
                    at=self.ctx.clock.now(),
                    action="step.cancelled",
                    detail={"because": f"{done.id} failed"},
                )

    async def _cancel(self, step: Step, reason: str, work: Delivery | None) -> None:
        cancelled = step.model_copy(update={"status": StepStatus.CANCELLED, "error": reason})
        commit = transitions.record(
            Commit(),
            self.ctx.keys,
            step,
            cancelled,
            actor="policy",
            at=self.ctx.clock.now(),
            action="step.cancelled",
            detail={"because": reason},
        )
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused:
            return


def _acted_on(step: Step) -> dict[str, Any]:
    """What the step depends on, with its control group removed once more: governance
    left it out already, and nothing held back may be acted on, whatever the record."""
    upstream = dict(step.output.get("upstream", {}))
    if "rows" in upstream and step.holdout is not None:
        upstream["rows"] = holdout.without_control(upstream["rows"], step.holdout)
    return upstream


def _summary(step: Step) -> dict[str, Any]:
    output = step.output
    summary: dict[str, Any] = {"audience": len(output.get("rows", []))}
    if "receipt" in output:
        summary["receipt"] = output["receipt"]
    if step.shadow:
        summary["shadow"] = True
    return summary
