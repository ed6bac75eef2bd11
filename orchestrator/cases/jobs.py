"""The job handlers of standing outcomes, for the runtime's registry."""

from __future__ import annotations

from orchestrator.cases.run import CASE_JOB, Cases
from orchestrator.cases.sla import CASE_SLA_JOB, CaseLadder
from orchestrator.cases.sources import POLL_JOB, poll
from orchestrator.runtime.context import Context
from orchestrator.runtime.ops import take_over_lease
from orchestrator.runtime.queue import Job
from orchestrator.runtime.worker import JobHandler


def case_jobs(ctx: Context, cases: Cases) -> dict[str, JobHandler]:
    """`case` (carry a case on), `case_sla` (a rung of its ladder), `case_poll` (a SQL source)."""
    ladder = CaseLadder(ctx)

    async def run_case(job: Job) -> None:
        if job.reclaimed:  # its worker is presumed dead: do not wait out its lease
            await take_over_lease(ctx, f"case:{job.payload['case']}")
        await cases.run(job.payload["case"])

    async def climb(job: Job) -> None:
        await ladder.climb(job.payload["case"], job.payload["rung"])

    async def poll_source(job: Job) -> None:
        await poll(ctx, cases, job.payload["workspace"], job.payload["source"])

    return {CASE_JOB: run_case, CASE_SLA_JOB: climb, POLL_JOB: poll_source}
