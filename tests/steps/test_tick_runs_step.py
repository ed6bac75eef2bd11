"""A tick runs the step its plan auto-approves itself, started in its closing commit; a
watchdog timer takes the step over should the worker die, and a failure or a refused
start hands it to an ordinary execute job."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.errors import ConnectorError
from orchestrator.models import StepStatus
from orchestrator.runtime.dispatch import AnyHandler
from orchestrator.runtime.messages import Execute, Message
from orchestrator.runtime.queue import Delivery
from orchestrator.steps.execute import watchdog_id
from orchestrator.steps.lanes import LaneInput, Lanes
from orchestrator.steps.planner import PlanInput, PlaybookPlanner, Proposal
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness

CHURN = "Cut monthly churn by 2 points by end of Q1"


class ScriptedLanes(Lanes):
    """Runs steps for real, except: the first run can hang (a worker about to die) or
    fail with a transient connector error."""

    def __init__(self, first: str = "") -> None:
        super().__init__()
        self.first = first
        self.runs: list[str] = []
        self.entered = asyncio.Event()

    async def run(self, lane_input: LaneInput) -> dict[str, object]:
        self.runs.append(lane_input.step.id)
        if len(self.runs) == 1 and self.first == "hang":
            self.entered.set()
            await asyncio.Event().wait()
        if len(self.runs) == 1 and self.first == "fail":
            raise ConnectorError("crm", "timed out", transient=True)
        return await super().run(lane_input)


def count_jobs(harness: Harness) -> Counter[str]:
    """Jobs handled, by kind, and execute jobs by step ("execute s1")."""
    kinds: Counter[str] = Counter()
    handlers = harness.runtime.worker.handlers
    for message, _ in handlers.items():
        handlers.wrap(message, lambda handler: _counting(handler, kinds))
    return kinds


def _counting(handler: AnyHandler, kinds: Counter[str]) -> AnyHandler:
    async def counted(job: Message, work: Delivery) -> None:
        kinds[job.KIND] += 1
        if isinstance(job, Execute):
            kinds[f"execute {job.step}"] += 1
        await handler(job, work)

    return counted


@pytest.fixture
async def scripted(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[tuple[Harness, ScriptedLanes]]:
    lanes = ScriptedLanes()
    harness = build_harness(redis, keys, workspace, business, wiring=lambda ctx: {"lanes": lanes})
    await harness.runtime.start()
    yield harness, lanes
    await harness.connectors.close()


async def actions_of(harness: Harness, step_id: str) -> list[str]:
    chain = await harness.store.audit_chain("T1")
    return [e.action for e in chain if e.subject == f"step:{step_id}"]


async def watchdogs(harness: Harness) -> list[bytes]:
    timers: Any = await harness.store.redis.zrange(harness.store.keys.timers(), 0, -1)
    return [t for t in timers if t.startswith(b"execute:")]


async def test_the_tick_runs_its_auto_approved_step_without_an_execute_job(
    scripted: tuple[Harness, ScriptedLanes],
) -> None:
    harness, lanes = scripted
    kinds = count_jobs(harness)
    await harness.state("olivia", CHURN)
    assert lanes.runs[0] == "s1" and lanes.runs.count("s1") == 1
    assert kinds["execute s1"] == 0 and kinds["tick"] >= 1
    assert (await harness.store.step("s1")).status is StepStatus.SUCCEEDED
    assert await actions_of(harness, "s1") == [
        "step.planned",
        "step.auto",
        "step.running",
        "step.succeeded",
    ]
    assert await watchdogs(harness) == []  # disarmed by the finishing commit
    assert await harness.runtime.ctx.queue.pending() == 0
    assert await harness.store.redis.keys(harness.store.keys.lease("*")) == []


async def test_a_worker_dying_mid_step_leaves_the_step_to_its_watchdog(
    scripted: tuple[Harness, ScriptedLanes],
) -> None:
    harness, lanes = scripted
    lanes.first = "hang"
    stating = asyncio.create_task(harness.state("olivia", CHURN))
    await asyncio.wait_for(lanes.entered.wait(), 30)
    stating.cancel()  # the worker dies with the step half run
    with pytest.raises(asyncio.CancelledError):
        await stating
    assert (await harness.store.step("s1")).status is StepStatus.RUNNING
    assert await watchdogs(harness) == [watchdog_id("s1").encode()]
    await harness.runtime.drain()
    assert lanes.runs == ["s1"]  # not due yet: the worker might only be slow
    harness.clock.advance(timedelta(seconds=harness.runtime.executor.watchdog_s + 1))
    await harness.runtime.drain()
    assert lanes.runs.count("s1") == 2  # taken over once, with the step id as idempotency key
    assert (await harness.store.step("s1")).status is StepStatus.SUCCEEDED
    assert (await actions_of(harness, "s1")).count("step.succeeded") == 1
    assert await watchdogs(harness) == []


async def test_a_step_failing_in_the_tick_is_retried_by_an_execute_job(
    scripted: tuple[Harness, ScriptedLanes],
) -> None:
    harness, lanes = scripted
    lanes.first = "fail"
    kinds = count_jobs(harness)
    await harness.state("olivia", CHURN)
    assert (await harness.store.step("s1")).status is StepStatus.RUNNING
    assert await harness.store.redis.keys(harness.store.keys.lease("step:*")) == []
    harness.clock.advance(timedelta(seconds=2))
    await harness.runtime.drain()
    assert kinds["execute s1"] == 1
    assert lanes.runs.count("s1") == 2
    assert (await harness.store.step("s1")).status is StepStatus.SUCCEEDED
    assert await watchdogs(harness) == []


class KillSwitchPlanner(PlaybookPlanner):
    """Someone pulls the kill switch while the first plan is being made."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        super().__init__()
        self.redis = redis
        self.keys = keys

    async def propose(self, plan: PlanInput) -> list[Proposal]:
        await self.redis.set(self.keys.kill_switch(plan.outcome.workspace), "1")
        return await super().propose(plan)


async def test_a_start_refused_at_closing_leaves_the_step_approved_for_an_execute_job(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> None:
    lanes = ScriptedLanes()
    harness = build_harness(
        redis,
        keys,
        workspace,
        business,
        wiring=lambda ctx: {"lanes": lanes, "planner": KillSwitchPlanner(redis, keys)},
    )
    await harness.runtime.start()
    kinds = count_jobs(harness)
    try:
        outcome_id = await harness.state("olivia", CHURN)
    finally:
        await harness.connectors.close()
    assert (await harness.store.step("s1")).status is StepStatus.APPROVED
    assert kinds["execute s1"] == 1  # it found the kill switch on, and left the step
    assert lanes.runs == []
    measurements = await harness.store.measurements(outcome_id)
    assert len(measurements) == 2  # the tick still closed: baseline, then its reading
    assert await watchdogs(harness) == []


async def test_a_loop_without_an_executor_queues_every_approved_step(
    scripted: tuple[Harness, ScriptedLanes],
) -> None:
    harness, lanes = scripted
    harness.runtime.loop.executor = None
    kinds = count_jobs(harness)
    await harness.state("olivia", CHURN)
    assert kinds["execute s1"] == 1
    assert lanes.runs.count("s1") == 1
    assert (await harness.store.step("s1")).status is StepStatus.SUCCEEDED
    assert await watchdogs(harness) == []
