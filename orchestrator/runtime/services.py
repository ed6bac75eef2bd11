"""The core's services and its job handlers, assembled from a `Context`.

A composition root builds one `Runtime` per process; web, worker and clock all use it.
"""

from __future__ import annotations

import asyncio
import contextlib

from orchestrator.approvals.decide import Approvals
from orchestrator.approvals.ladder import ESCALATE_JOB, REMIND_JOB, STAND_INS_JOB, Ladder
from orchestrator.cases.jobs import case_jobs
from orchestrator.cases.run import Cases
from orchestrator.cases.standing import Standing
from orchestrator.errors import ConfigError
from orchestrator.notify.digest import DIGEST_JOB, Digest
from orchestrator.notify.incidents import PAGE_JOB, Incident
from orchestrator.notify.notices import NOTIFY, Notice, Notifier
from orchestrator.notify.paging import Pager, Pagers
from orchestrator.outcomes.control import Control
from orchestrator.outcomes.intake import INTAKE_JOB, Intake, Interpreter
from orchestrator.outcomes.loop import TICK_JOB, Loop
from orchestrator.runtime.context import Context
from orchestrator.runtime.ops import dead_letter_incident, page_incident_notice, take_over_lease
from orchestrator.runtime.queue import Job
from orchestrator.runtime.worker import JobHandler, Worker
from orchestrator.steps.execute import Executor
from orchestrator.steps.govern import APPROVAL_TIMEOUT_JOB, EXECUTE_JOB
from orchestrator.steps.lanes import Lanes
from orchestrator.steps.planner import Planner, PlaybookPlanner


class Runtime:
    def __init__(
        self,
        ctx: Context,
        notifier: Notifier,
        *,
        planner: Planner | None = None,
        lanes: Lanes | None = None,
        interpreter: Interpreter | None = None,
        name: str = "worker",
        pager: Pager | None = None,
    ) -> None:
        self.ctx = ctx
        self.notifier = notifier
        self.intake = Intake(ctx, interpreter)
        self.control = Control(ctx, self.intake)
        self.approvals = Approvals(ctx)
        self.executor = Executor(ctx, lanes or Lanes(), worker_id=name)
        self.loop = Loop(ctx, planner or PlaybookPlanner(), worker_id=name, executor=self.executor)
        self.ladder = Ladder(ctx)
        self.digest = Digest(ctx)
        self.pager: Pager = pager or Pagers()
        self.cases = Cases(ctx, self.executor.lanes, worker_id=name)
        self.standing = Standing(ctx, self.cases, worker_id=name)
        self.worker = Worker(
            ctx.queue,
            self.job_handlers(),
            clock=ctx.clock,
            name=name,
            on_dead_letter=lambda job, error: dead_letter_incident(ctx, job, error),
        )
        self.worker.connector_kinds = frozenset({TICK_JOB, EXECUTE_JOB})

    def job_handlers(self) -> dict[str, JobHandler]:
        return {
            TICK_JOB: self._tick,
            EXECUTE_JOB: self._execute,
            NOTIFY: self._notify,
            INTAKE_JOB: lambda job: self.intake.advance(job.payload["session"]),
            APPROVAL_TIMEOUT_JOB: lambda job: self.approvals.expire(job.payload["approval"]),
            REMIND_JOB: lambda job: self.ladder.remind(job.payload["approval"]),
            ESCALATE_JOB: lambda job: self.ladder.escalate(job.payload["approval"]),
            STAND_INS_JOB: lambda job: self.ladder.stand_ins(job.payload["approval"]),
            PAGE_JOB: self._page,
            DIGEST_JOB: self._digest,
            **case_jobs(self.ctx, self.cases),
        }

    def register(self, kind: str, handler: JobHandler) -> None:
        """Add a job kind from an outer layer (a chat platform's own durable work), so the
        core runs it with the same retries and dead-lettering without importing that layer."""
        if kind in self.worker.handlers:
            raise ConfigError(f"job kind {kind!r} is already registered")
        self.worker.handlers[kind] = handler

    async def _digest(self, job: Job) -> None:
        await self.digest.post()

    async def _page(self, job: Job) -> None:
        incident = Incident.model_validate(job.payload)
        await self.ctx.store.counters.track_incident(incident)
        await self.pager.page(incident)

    async def _notify(self, job: Job) -> None:
        notice = Notice.model_validate(job.payload)
        # Page before the chat delivery: on-call must hear of an incident even when the
        # chat platform is the thing that is down.
        await page_incident_notice(self.ctx, notice)
        await self.notifier.deliver(notice)

    async def _tick(self, job: Job) -> None:
        outcome_id = str(job.payload["outcome"])
        if job.reclaimed:
            await take_over_lease(self.ctx, f"outcome:{outcome_id}")
        if not await self.loop.tick(outcome_id):  # a standing outcome
            await self.standing.tick(outcome_id)

    def set_visibility(self, seconds: float) -> None:
        """How long a job, or a step a tick started, may run before its worker is presumed
        dead and another takes it over."""
        self.worker.visibility_ms = int(seconds * 1000)
        self.executor.watchdog_s = seconds

    async def _execute(self, job: Job) -> None:
        if job.reclaimed or job.payload.get("watchdog"):  # its worker is presumed dead
            await take_over_lease(self.ctx, f"step:{job.payload['step']}")
        last = job.attempt + 1 >= self.worker.max_attempts
        await self.executor.execute(
            job.payload["step"], last_attempt=last, outcome_id=job.payload.get("outcome")
        )

    async def start(self) -> None:
        await self.ctx.queue.ensure_group()

    async def drain(self, max_rounds: int = 10_000) -> int:
        """Run everything due now until nothing is left (tests and the scripted demo)."""
        handled = 0
        for _ in range(max_rounds):
            moved = await self.ctx.queue.move_due(self.ctx.clock.now())
            done = await self.worker.run_once(block_ms=None, count=50)
            handled += done
            if not moved and not done:
                break
        return handled

    async def run_worker(self, stop: asyncio.Event, block_ms: int = 500) -> None:
        while not stop.is_set():
            await self.worker.run_once(block_ms=block_ms)

    async def run_timers(self, stop: asyncio.Event, every_s: float = 0.5) -> None:
        """Move due timers into the stream (the single-process stand-in for `baton clock`)."""
        while not stop.is_set():
            await self.ctx.queue.move_due(self.ctx.clock.now())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
