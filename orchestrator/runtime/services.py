"""The core's services and its job handlers, assembled from a `Context`.

A composition root builds one `Runtime` per process; web, worker and clock all use it.
"""

from __future__ import annotations

import asyncio
import contextlib

from orchestrator.approvals.decide import Approvals
from orchestrator.approvals.ladder import Ladder
from orchestrator.cases.jobs import case_jobs
from orchestrator.cases.run import Cases
from orchestrator.cases.standing import Standing
from orchestrator.notify.digest import Digest
from orchestrator.notify.notices import Notifier
from orchestrator.notify.paging import Pager, Pagers
from orchestrator.outcomes.control import Control
from orchestrator.outcomes.intake import Intake, Interpreter
from orchestrator.outcomes.loop import Loop
from orchestrator.runtime import messages as m
from orchestrator.runtime.context import Context
from orchestrator.runtime.dispatch import Handler, Handlers, M
from orchestrator.runtime.ops import dead_letter_incident, page_incident_notice, take_over_lease
from orchestrator.runtime.queue import Delivery
from orchestrator.runtime.worker import Worker
from orchestrator.steps.execute import Executor
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
        self.worker.connector_kinds = frozenset({m.Tick.KIND, m.Execute.KIND})

    def job_handlers(self) -> Handlers:
        """The core's handler of each of its messages (`orchestrator.runtime.messages`)."""
        handlers = Handlers()
        handlers.register(m.Tick, self._tick)
        handlers.register(m.Execute, self._execute)
        handlers.register(m.Notify, self._notify)
        handlers.register(m.Page, self._page)
        handlers.register(m.AdvanceIntake, lambda msg, work: self.intake.advance(msg.session, work))
        handlers.register(
            m.ExpireApproval, lambda msg, work: self.approvals.expire(msg.approval, work)
        )
        handlers.register(
            m.RemindApprovers, lambda msg, work: self.ladder.remind(msg.approval, work)
        )
        handlers.register(
            m.EscalateApproval, lambda msg, work: self.ladder.escalate(msg.approval, work)
        )
        handlers.register(
            m.NameStandIns, lambda msg, work: self.ladder.stand_ins(msg.approval, work)
        )
        handlers.register(m.PostDigest, self._digest)
        handlers.update(case_jobs(self.ctx, self.cases))
        return handlers

    def register(self, message: type[M], handler: Handler[M]) -> None:
        """Add a message from an outer layer (a chat platform's own durable work), so the
        core runs it with the same retries and dead-lettering without importing that layer;
        a message registered twice is refused (`ConfigError`)."""
        self.worker.handlers.register(message, handler)

    async def _digest(self, digest: m.PostDigest, work: Delivery) -> None:
        await self.digest.post()

    async def _page(self, page: m.Page, work: Delivery) -> None:
        await self.ctx.store.counters.track_incident(page.incident)
        await self.pager.page(page.incident)

    async def _notify(self, notify: m.Notify, work: Delivery) -> None:
        # Page before the chat delivery: on-call must hear of an incident even when the
        # chat platform is the thing that is down.
        await page_incident_notice(self.ctx, notify.notice)
        await self.notifier.deliver(notify.notice)

    async def _tick(self, tick: m.Tick, work: Delivery) -> None:
        if work.job.reclaimed:
            await take_over_lease(self.ctx, f"outcome:{tick.outcome}")
        if not await self.loop.tick(tick.outcome, work):  # a standing outcome
            await self.standing.tick(tick.outcome, work)

    def set_visibility(self, seconds: float) -> None:
        """How long a job, or a step a tick started, may run before its worker is presumed
        dead and another takes it over."""
        self.worker.visibility_ms = int(seconds * 1000)
        self.executor.watchdog_s = seconds

    async def _execute(self, execute: m.Execute, work: Delivery) -> None:
        if work.job.reclaimed or execute.watchdog:  # its worker is presumed dead
            await take_over_lease(self.ctx, f"step:{execute.step}")
        last = work.job.attempt + 1 >= self.worker.max_attempts
        await self.executor.execute(
            execute.step, work=work, last_attempt=last, outcome_id=execute.outcome
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
