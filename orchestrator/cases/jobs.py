"""The job handlers of standing outcomes, for the runtime's registry."""

from __future__ import annotations

from orchestrator.cases.run import Cases
from orchestrator.cases.sla import CaseLadder
from orchestrator.cases.sources import poll
from orchestrator.runtime.context import Context
from orchestrator.runtime.dispatch import AnyHandler
from orchestrator.runtime.messages import ClimbCaseSla, Message, PollCaseSource, RunCase
from orchestrator.runtime.ops import take_over_lease
from orchestrator.runtime.queue import Delivery


def case_jobs(ctx: Context, cases: Cases) -> dict[type[Message], AnyHandler]:
    """`RunCase` (carry a case on), `ClimbCaseSla` (a rung of its ladder), `PollCaseSource`."""
    ladder = CaseLadder(ctx)

    async def run_case(run: RunCase, work: Delivery) -> None:
        if work.job.reclaimed:  # its worker is presumed dead: do not wait out its lease
            await take_over_lease(ctx, f"case:{run.case}")
        await cases.run(run.case, work)

    async def climb(rung: ClimbCaseSla, work: Delivery) -> None:
        await ladder.climb(rung.case, rung.rung, work)

    async def poll_source(source: PollCaseSource, work: Delivery) -> None:
        await poll(ctx, cases, source.workspace, source.source, work)

    return {RunCase: run_case, ClimbCaseSla: climb, PollCaseSource: poll_source}
