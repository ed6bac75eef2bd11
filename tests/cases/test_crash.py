"""A worker dies in the middle of a case: another reclaims the job and the case finishes once.

In-process: worker A runs the case job until a step's connector has written and then
never returns (as if killed); the job stays unacknowledged and A's lease stays held.
Worker B reclaims the job (XAUTOCLAIM), takes the lease over and re-runs that step under
the same idempotency key, so its effect stays single, and finishes the case once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from orchestrator.models import CaseStatus
from orchestrator.runtime.worker import Worker
from orchestrator.steps.lanes import LaneInput, Lanes
from tests.cases.conftest import TABLES, audit_actions, sign, stand
from tests.conftest import Harness


class DiesAfterWriting(Lanes):
    """Does the step's real work, then hangs on `send_welcome` (the worker is 'killed')."""

    def __init__(self) -> None:
        super().__init__()
        self.wrote = asyncio.Event()

    async def run(self, lane_input: LaneInput) -> dict[str, Any]:
        output = await super().run(lane_input)
        if lane_input.step.action == "send_welcome":
            self.wrote.set()
            await asyncio.Event().wait()
        return output


async def test_a_case_whose_worker_died_mid_step_finishes_exactly_once(harness: Harness) -> None:
    await stand(harness)
    number = sign(harness, "Acme Ltd")
    ctx, runtime = harness.runtime.ctx, harness.runtime
    dies = DiesAfterWriting()
    runtime.cases.lanes = dies
    harness.clock.advance(timedelta(seconds=61))
    await ctx.queue.move_due(harness.clock.now())
    dying = asyncio.create_task(runtime.drain())
    await asyncio.wait_for(dies.wrote.wait(), 10)
    dying.cancel()  # killed: its case job is read and never acknowledged
    await asyncio.gather(dying, return_exceptions=True)
    case = await ctx.store.case(f"contracts:{number}")
    assert case.status is CaseStatus.RUNNING and case.position == 1
    assert harness.business.count("welcome_emails", number) == 1  # its effect happened
    assert await ctx.queue.pending() >= 1

    runtime.cases.lanes = Lanes()
    rescuer = Worker(
        ctx.queue, runtime.job_handlers(), clock=ctx.clock, name="rescuer", visibility_ms=0
    )
    for _ in range(20):
        if not await rescuer.run_once(block_ms=None, count=50):
            break
    await runtime.drain()
    case = await ctx.store.case(f"contracts:{number}")
    assert case.status is CaseStatus.DONE
    assert [harness.business.count(t, number) for t in TABLES] == [1, 1, 1, 1]
    actions = await audit_actions(harness, f"case:contracts:{number}")
    assert actions.count("case.done") == 1 and actions.count("case.step") == 4
