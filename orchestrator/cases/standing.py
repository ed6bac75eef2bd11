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
from typing import Any

from orchestrator.cases.run import CASE_JOB, Cases
from orchestrator.cases.sources import POLL_JOB, poll_timer
from orchestrator.models import (
    Measurement,
    Outcome,
    OutcomeStatus,
    Record,
)
from orchestrator.notify.notices import Notice, NoticeKind
from orchestrator.outcomes.evaluate import evaluate_standing
from orchestrator.runtime.context import Context
from orchestrator.store import transitions
from orchestrator.store.commit import Commit

LEASE_MS = 60_000
SWEEP = 500


class CaseStats(Record):
    """Where a standing outcome's cases stand."""

    done: int
    within: int
    """Done within their SLA."""
    failed: int
    """Rejected or failed: they will not be done."""
    open: int
    overdue: int
    """Unfinished and past their SLA already."""
    share: float
    """Percent of finished-or-overdue cases done within SLA (100 with none yet)."""
    median_s: float | None = None
    p95_s: float | None = None


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

    async def tick(self, outcome_id: str) -> None:
        subject = f"outcome:{outcome_id}"
        if not await self.ctx.store.acquire(subject, self.worker_id, LEASE_MS):
            return
        try:
            await self._tick(await self.ctx.store.outcome(outcome_id))
        finally:
            await self.ctx.store.release(subject, self.worker_id)

    async def _tick(self, outcome: Outcome) -> None:
        if outcome.status is not OutcomeStatus.ACTIVE:
            return
        commit = Commit()
        if not await self.ctx.store.kill_switch(outcome.workspace):
            stats = await measure(self.ctx, outcome)
            self._record(outcome, stats, commit)
            await self._sweep(outcome, commit)
            await self._keep_polling(outcome, commit)
        due = self.ctx.clock.now() + timedelta(seconds=outcome.check_every_s)
        self.ctx.queue.schedule_in(
            commit, f"tick:{outcome.id}", due, "tick", {"outcome": outcome.id}
        )
        await self.ctx.store.apply(commit)

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
        data: dict[str, Any] = {
            "evaluation": evaluation.model_dump(mode="json"),
            "cases": stats.model_dump(mode="json"),
        }
        self.ctx.notify(
            commit,
            Notice(
                kind=NoticeKind.PROGRESS,
                conversation=outcome.conversation,
                outcome_id=outcome.id,
                data=data,
            ),
        )

    async def _sweep(self, outcome: Outcome, commit: Commit) -> None:
        """Queue the unfinished cases again: resumes work a pause or an outage left."""
        for case in await self.ctx.store.cases.open_cases(outcome.id, SWEEP + 1):
            self.ctx.queue.enqueue_in(commit, CASE_JOB, {"case": case})

    async def _keep_polling(self, outcome: Outcome, commit: Commit) -> None:
        """Make sure a SQL source of the outcome is being polled (its timer re-arms itself)."""
        book = self.ctx.workspace_of(outcome.workspace).case_playbooks[outcome.case_playbook]
        source = self.ctx.workspace_of(outcome.workspace).case_sources[book.source]
        timer = poll_timer(outcome.workspace, book.source)
        if source.kind != "sql" or await self.ctx.queue.scheduled(timer, outcome.workspace):
            return
        payload = {"workspace": outcome.workspace, "source": book.source}
        self.ctx.queue.schedule_in(commit, timer, self.ctx.clock.now(), POLL_JOB, payload)
