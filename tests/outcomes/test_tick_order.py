"""A planning tick's one closing commit audits planned, governed, then measured; the tick
and a step's execution each hold their lease only while they run."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.models import StepStatus
from orchestrator.steps.lanes import LaneInput, Lanes
from orchestrator.store.audit import verify
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness

CHURN = "Cut monthly churn by 2 points by end of Q1"
GOVERNED = {"step.auto", "step.approve", "step.forbid"}


async def test_a_planning_tick_audits_planned_then_governed_then_measured(
    harness: Harness,
) -> None:
    outcome_id = await harness.state("olivia", CHURN)
    chain = await harness.store.audit_chain("T1")
    assert chain[0].action == "outcome.confirmed"
    first_tick = [(e.action, e.subject) for e in chain[1:6]]
    assert first_tick == [
        ("step.planned", "step:s1"),
        ("step.planned", "step:s2"),
        ("step.planned", "step:s3"),
        ("step.auto", "step:s1"),
        ("measurement.recorded", f"outcome:{outcome_id}"),
    ]
    assert chain[2].action not in GOVERNED  # nothing governed between two plannings
    assert (await verify(harness.store, "T1")).intact
    lease = harness.store.keys.lease(f"outcome:{outcome_id}")
    assert not await harness.store.redis.exists(lease)  # released by the closing commit


async def test_every_planned_step_is_governed_after_its_planning_and_before_measuring(
    harness: Harness,
) -> None:
    outcome_id = await harness.state("olivia", CHURN)
    trail = await harness.store.audit_trail(await harness.store.outcome(outcome_id))
    actions = [(e.action, e.subject) for e in trail]
    measured = actions.index(("measurement.recorded", f"outcome:{outcome_id}"))
    planned = [i for i, (action, _) in enumerate(actions) if action == "step.planned"]
    assert planned and max(planned) < measured
    governed_in_tick = [i for i in range(max(planned), measured) if actions[i][0] in GOVERNED]
    assert governed_in_tick  # the ready step was governed in the planning commit
    assert all(max(planned) < i < measured for i in governed_in_tick)


class BlockingLanes(Lanes):
    """Holds the first step it runs until `go` is set; counts every run."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.go = asyncio.Event()
        self.runs: list[str] = []

    async def run(self, lane_input: LaneInput) -> dict[str, object]:
        self.runs.append(lane_input.step.id)
        if len(self.runs) == 1:
            self.entered.set()
            await self.go.wait()
        return await super().run(lane_input)


async def test_a_step_holds_its_lease_while_it_runs_and_releases_it_when_done(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> None:
    lanes = BlockingLanes()
    harness = build_harness(redis, keys, workspace, business, wiring=lambda ctx: {"lanes": lanes})
    await harness.runtime.start()
    try:
        stating = asyncio.create_task(harness.state("olivia", CHURN))
        await asyncio.wait_for(lanes.entered.wait(), 30)
        step_id = lanes.runs[0]
        lease = keys.lease(f"step:{step_id}")
        assert (await harness.store.step(step_id)).status is StepStatus.RUNNING
        assert await redis.get(lease) == b"worker"  # taken with approved -> running
        assert await redis.pttl(lease) > 0
        # a second delivery while it runs
        await harness.runtime.executor.execute(step_id, work=None)
        assert lanes.runs == [step_id]  # the lease kept it from running twice
        lanes.go.set()
        await asyncio.wait_for(stating, 60)
        assert (await harness.store.step(step_id)).status is StepStatus.SUCCEEDED
        assert not await redis.exists(lease)  # released by the finishing commit
        assert lanes.runs.count(step_id) == 1
        assert await redis.keys(keys.lease("*")) == []
    finally:
        lanes.go.set()
        await harness.connectors.close()
