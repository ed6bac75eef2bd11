"""Standing outcomes: the tick that measures an outcome from its cases.

The metric is the share of cases done within their SLA, in percent, over every case
that is finished or already overdue; median and p95 time to done ride along. It is
evaluated against the target share like a target outcome's metric, so the progress
message, status, charts and digests read it the same way, but a standing outcome
holds indefinitely: meeting its target keeps it on track instead of ending it.
"""

from __future__ import annotations

import math
from datetime import timedelta

from orchestrator.cases.run import Cases
from orchestrator.cases.sources import poll_timer
from orchestrator.cases.stats import CaseStats
from orchestrator.models import (
    Measurement,
    Outcome,
    OutcomeStatus,
)
from orchestrator.notify.notices import Notice, NoticeKind, ProgressData
from orchestrator.outcomes.evaluate import evaluate_standing
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import PollCaseSource, RunCase, Tick
from orchestrator.runtime.queue import Delivery
from orchestrator.store import transitions
from orchestrator.store.commit import Commit

LEASE_MS = 60_000
SWEEP = 500


async def measure(ctx: Context, outcome: Outcome) -> CaseStats:
    """The derived metric, from two sorted sets and a counter (cost independent of cases)."""
    found = await ctx.store.cases.counts(outcome.id, outcome.sla_s, ctx.clock.now().timestamp())
    counted = found.done + found.failed + found.overdue
    share = 100.0 * found.within / counted if counted else 100.0
    return CaseStats(
        done=found.done,
        within=found.within,
        failed=found.failed,
        open=found.open,
        overdue=found.overdue,
        share=round(share, 2),
        median_s=await _quantile(ctx, outcome, found.done, 0.5),
        p95_s=await _quantile(ctx, outcome, found.done, 0.95),
    )


async def _quantile(ctx: Context, outcome: Outcome, done: int, q: float) -> float | None:
    if not done:
        return None
    rank = max(math.ceil(q * done) - 1, 0)  # nearest rank
    return await ctx.store.cases.done_seconds_at(outcome.id, rank)


class Standing:
    """Ticks standing outcomes (the `tick` job routes them here)."""

    def __init__(self, ctx: Context, cases: Cases, *, worker_id: str = "worker") -> None:
        self.ctx = ctx
        self.cases = cases
        self.worker_id = worker_id

    async def tick(self, outcome_id: str, work: Delivery | None) -> None:
        """A standing outcome's tick; `work`, the tick job being handled, fences its commit."""
        subject = f"outcome:{outcome_id}"
        if not await self.ctx.store.acquire(subject, self.worker_id, LEASE_MS):
            return
        try:
            await self._tick(await self.ctx.store.outcome(outcome_id), work)
        finally:
            await self.ctx.store.release(subject, self.worker_id)

    async def _tick(self, outcome: Outcome, work: Delivery | None) -> None:
        if outcome.status is not OutcomeStatus.ACTIVE:
            return
        commit = Commit()
        if not await self.ctx.store.kill_switch(outcome.workspace):
            stats = await measure(self.ctx, outcome)
            self._record(outcome, stats, commit)
            await self._sweep(outcome, commit)
            await self._keep_polling(outcome, commit)
        due = self.ctx.clock.now() + timedelta(seconds=outcome.check_every_s)
        self.ctx.queue.schedule_in(commit, f"tick:{outcome.id}", due, Tick(outcome=outcome.id))
        await self.ctx.store.apply(commit, fenced_by=work)

    def _record(self, outcome: Outcome, stats: CaseStats, commit: Commit) -> None:
        now = self.ctx.clock.now()
        measurement = Measurement(value=stats.share, at=now)
        commit.op("RPUSH", self.ctx.keys.measurements(outcome.id), measurement.model_dump_json())
        transitions.audit(
            commit, self.ctx.keys, outcome.workspace, actor="system", at=now,
            action="measurement.recorded", subject=f"outcome:{outcome.id}",
            outcome_id=outcome.id, detail={"metric": outcome.metric, **stats.model_dump()},
        )  # fmt: skip
        evaluation = evaluate_standing(outcome, stats.share)
        progress = ProgressData(evaluation=evaluation, cases=stats)
        self.ctx.notify(commit, Notice.on_outcome(NoticeKind.PROGRESS, outcome, data=progress))

    async def _sweep(self, outcome: Outcome, commit: Commit) -> None:
        """Queue the unfinished cases again: resumes work a pause or an outage left."""
        for case in await self.ctx.store.cases.open_cases(outcome.id, SWEEP + 1):
            self.ctx.queue.enqueue_in(commit, RunCase(case=case))

    async def _keep_polling(self, outcome: Outcome, commit: Commit) -> None:
        """Make sure a SQL source of the outcome is being polled (its timer re-arms itself)."""
        book = self.ctx.workspace_of(outcome.workspace).case_playbooks[outcome.case_playbook]
        source = self.ctx.workspace_of(outcome.workspace).case_sources[book.source]
        timer = poll_timer(outcome.workspace, book.source)
        if source.kind != "sql" or await self.ctx.queue.scheduled(timer, outcome.workspace):
            return
        poll = PollCaseSource(workspace=outcome.workspace, source=book.source)
        self.ctx.queue.schedule_in(commit, timer, self.ctx.clock.now(), poll)
