"""The whole flow (statement, Confirm, plan, approval, execution, report) on a single server
and on a local 3-master Redis Cluster, where every key carries its workspace's hash tag."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.models import OutcomeStatus, StepStatus
from orchestrator.runtime.messages import Tick
from orchestrator.runtime.queue import JobQueue
from orchestrator.store import tags
from orchestrator.store.client import redis_client
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness


@pytest.fixture(params=["single", "cluster"])
async def either(
    request: pytest.FixtureRequest,
    redis: Redis,
    keys: Keys,
    workspace: Workspace,
    business: Business,
) -> AsyncIterator[Harness]:
    cluster = None
    if request.param == "cluster":  # its async fixtures cannot be asked for from here
        cluster = redis = redis_client(request.getfixturevalue("cluster_url"))
        keys = Keys(f"{keys.prefix}:c", tagged=True)
    built = build_harness(redis, keys, workspace, business)
    await built.runtime.start()
    yield built
    await built.connectors.close()
    if cluster is not None:
        async for key in cluster.scan_iter(match=f"{keys.prefix}:*", count=1000):
            await cluster.delete(key)
        await cluster.aclose()


async def test_statement_to_report(either: Harness) -> None:
    harness = either
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    assert harness.store.keys.tagged == ("." in outcome_id)  # the tag rides in the id
    steps = await harness.store.steps(outcome_id)
    assert steps[-1].status is StepStatus.AWAITING_APPROVAL
    for _ in range(60):
        for approval in harness.gateway.buttons("approve"):
            await harness.click("alice", "approve", approval)
        if (await harness.store.outcome(outcome_id)).status is not OutcomeStatus.ACTIVE:
            break
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    assert (await harness.store.outcome(outcome_id)).status is OutcomeStatus.ACHIEVED
    done = [s for s in await harness.store.steps(outcome_id) if s.status is StepStatus.SUCCEEDED]
    assert any(s.action == "send_winback" for s in done)
    assert harness.gateway.titles()[-1] == f"Outcome {outcome_id} achieved"
    trail = await harness.store.audit_trail(await harness.store.outcome(outcome_id))
    assert trail[-1].after == "achieved"


async def test_a_lost_set_of_tags_is_filled_again(
    cluster_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers find a workspace's stream through the set of tags in use; a process that
    registered a tag adds it again later, should the set have been lost since."""
    monkeypatch.setattr(tags, "AGAIN_S", 0.0)
    redis = redis_client(cluster_url)
    keys = Keys(f"test:{uuid.uuid4().hex[:12]}", tagged=True)
    writer = JobQueue(redis, keys)
    await writer.enqueue(Tick(outcome=keys.new_id("o", 1, "T1")), workspace="T1")
    await redis.delete(keys.tags())  # lost: other processes' workers cannot see T1 now
    assert not await redis.sismember(keys.tags(), keys.tag("T1"))
    reader = JobQueue(redis, keys)
    await reader.ensure_group()
    await writer.enqueue(Tick(outcome=keys.new_id("o", 2, "T1")), workspace="T1")
    assert await redis.sismember(keys.tags(), keys.tag("T1"))  # added again
    jobs = await reader.read("w1", count=10)
    assert sorted(job.payload["outcome"] for job in jobs) == [
        keys.new_id("o", 1, "T1"),
        keys.new_id("o", 2, "T1"),
    ]
    async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await redis.delete(key)
    await redis.aclose()
