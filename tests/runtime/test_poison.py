"""A job that kills its worker every time is dead-lettered after a few deliveries,
raises an incident, and takes no innocent job down with it."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.notify.paging import WebhookPager
from orchestrator.runtime.messages import Tick
from orchestrator.runtime.queue import JobQueue
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness
from tests.messages import Count, Poison
from tests.runtime.poison_worker import MAX_ATTEMPTS
from tests.runtime.processes import ROOT, clean, reachable_redis, unique_prefix, until
from tests.runtime.receiver import LOCAL, PageReceiver


@pytest.fixture
async def paged(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business, receiver: PageReceiver
) -> AsyncIterator[Harness]:
    built = build_harness(redis, keys, workspace, business)
    built.runtime.pager = WebhookPager(receiver.url + "/hook", allow_private=LOCAL)
    built.runtime.worker.visibility_ms = 0  # every unacknowledged job counts as abandoned
    await built.runtime.start()
    yield built
    await built.connectors.close()


async def test_job_abandoned_again_and_again_is_dead_lettered(
    paged: Harness, receiver: PageReceiver
) -> None:
    harness = paged
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    await harness.runtime.drain()
    queue = harness.runtime.ctx.queue
    worker = harness.runtime.worker
    await queue.enqueue(Tick(outcome=outcome_id))
    # Each dying worker read the job and vanished without acknowledging it.
    assert len(await queue.read("doomed-0", 1)) == 1
    for n in range(1, worker.max_attempts):
        (job,) = await queue.reclaim(f"doomed-{n}", 0)
        assert job.deliveries == n + 1
    measured = len(await harness.store.measurements(outcome_id))

    await harness.runtime.drain()

    assert await queue.dead() == 1 and await queue.pending() == 0
    assert len(await harness.store.measurements(outcome_id)) == measured  # not run again
    title = f"Incident on outcome {outcome_id}: job_dead_lettered"
    assert title in harness.gateway.titles()
    (page,) = [b for b in receiver.bodies if b["kind"] == "job_dead_lettered"]
    assert page["outcome_id"] == outcome_id
    assert f"died {worker.max_attempts} times" in page["what"]


def _spawn(url: str, prefix: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.runtime.poison_worker", url, prefix]
    return subprocess.Popen(command, cwd=ROOT)


async def test_job_killing_its_worker_is_dead_lettered_across_processes() -> None:
    url = await reachable_redis()
    prefix = unique_prefix()
    redis = Redis.from_url(url)
    queue = JobQueue(redis, Keys(prefix))
    await queue.ensure_group()
    await queue.enqueue(Poison())
    for n in range(3):
        await queue.enqueue(Count(n=n))

    async def ran() -> list[object]:
        return [await redis.get(f"{prefix}:ran:{n}") for n in range(3)]

    async def settled() -> bool:
        return await queue.dead() == 1 and all(await ran()) and await queue.pending() == 0

    try:
        for _ in range(MAX_ATTEMPTS):
            # Each worker takes the poison (first in, or reclaimed alone) and is killed by it.
            assert _spawn(url, prefix).wait(timeout=60) == -signal.SIGKILL
        assert await queue.dead() == 0
        survivor = _spawn(url, prefix)
        try:
            assert await until(settled, rounds=300, every_s=0.1)
            assert survivor.poll() is None  # it set the poison aside instead of running it
        finally:
            survivor.terminate()
            survivor.wait(timeout=30)
        assert await ran() == [b"1"] * 3  # the jobs read alongside the poison ran once
        (incident,) = await redis.lrange(f"{prefix}:incidents", 0, -1)
        expected = f"poison: its worker died {MAX_ATTEMPTS} times while handling it"
        assert incident == expected.encode()
    finally:
        await clean(redis, prefix)
        await redis.aclose()
