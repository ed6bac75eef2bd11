"""`/metrics` reads counters and gauges the commits keep, never the records: a scrape costs
the same however many outcomes there are, and it reports the archive's lag and the build."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.metrics import exposition, snapshot
from config.settings import Settings
from orchestrator.history.archive import Archiver, Retention
from orchestrator.history.store import HistoryStore
from orchestrator.runtime.queue import Delivery
from orchestrator.store import gauges, redis_store
from orchestrator.store.backfill import backfill
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.conftest import Harness
from tests.messages import Boom, enqueue_raw
from tests.ops.test_metrics import samples, serve, story


@pytest.fixture
def settings(redis_url: str, keys: Keys, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_url, key_prefix=keys.prefix, state_dir=tmp_path)


async def test_a_scrape_reads_no_records(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome_id = await story(harness)
    steps = await harness.store.steps(outcome_id)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a scrape read records")

    for reader in ("outcomes", "steps", "live_steps", "measurements", "approval", "step"):
        monkeypatch.setattr(RedisStore, reader, never)
    snap = await snapshot(harness.runtime.ctx)

    assert sum(snap.steps.values()) == len(steps)
    assert snap.approval_latency.buckets[-1][1] >= 2
    assert snap.decision_latency.buckets[-1][1] == 1


async def test_steps_moved_out_of_redis_still_count(
    harness: Harness, history: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "TICK_WINDOW", 2)  # the story's steps leave the window
    outcome_id = await story(harness)
    before = await snapshot(harness.runtime.ctx)
    harness.store.history = history
    harness.clock.advance(timedelta(days=40))
    moved = await Archiver(harness.store, history, harness.clock, Retention()).run()
    harness.clock.advance(timedelta(minutes=5))

    after = await snapshot(harness.runtime.ctx)

    assert moved.steps and len(await harness.store.live_steps(outcome_id)) < sum(
        before.steps.values()
    )
    assert after.steps == before.steps
    assert after.archive_lag_s == 300


async def test_metrics_name_the_build(settings: Settings) -> None:
    async for client, _ in serve(settings):
        got = samples(await (await client.get("/metrics")).text())
    assert any(name == "baton_build_info" for name, _ in got)


async def test_jobs_are_counted_per_kind_and_outcome_with_their_latency(harness: Harness) -> None:
    await story(harness)
    worker = harness.runtime.worker

    async def boom(job: Boom, work: Delivery) -> None:
        raise RuntimeError("the connector broke")

    harness.runtime.register(Boom, boom)
    await harness.runtime.ctx.queue.enqueue(Boom(n=1))  # fails, retried later
    await harness.runtime.ctx.queue.enqueue(Boom(n=2), attempt=worker.max_attempts - 1)
    await enqueue_raw(harness.runtime.ctx.queue, "no such kind", {})
    await harness.runtime.drain()

    snap = await snapshot(harness.runtime.ctx)
    got = samples(exposition(snap).decode())

    ticks = sum(
        n
        for (name, labels), n in got.items()
        if name == "baton_jobs_total" and ("kind", "tick") in labels
    )
    assert got[("baton_jobs_total", (("kind", "tick"), ("outcome", "done")))] >= 1
    assert got[("baton_ticks_total", ())] <= ticks  # each tick ran in a tick job
    assert got[("baton_job_seconds_count", (("kind", "tick"),))] == ticks
    assert got[("baton_job_seconds_bucket", (("kind", "tick"), ("le", "+Inf")))] == ticks
    assert got[("baton_job_seconds_sum", (("kind", "tick"),))] > 0
    assert got[("baton_jobs_total", (("kind", "boom"), ("outcome", "failed")))] == 1
    assert got[("baton_jobs_total", (("kind", "boom"), ("outcome", "dead")))] == 1
    assert got[("baton_jobs_total", (("kind", "no such kind"), ("outcome", "dead")))] == 1
    assert got[("baton_dead_letters", ())] == 2


async def _forget_gauges(harness: Harness) -> None:
    """What an install that ran a Baton from before the gauges has: records, no gauges."""
    redis, keys = harness.store.redis, harness.store.keys
    await redis.delete(gauges.gauges_key(keys), gauges.histograms_key(keys))
    for workspace in await harness.store.workspaces():
        for outcome in await harness.store.outcomes(workspace):
            await redis.hdel(keys.outcome(outcome.id), gauges.OFF_SINCE, gauges.OFF_ANSWERED)


async def test_backfill_counts_older_records_once(
    harness: Harness, history: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "TICK_WINDOW", 2)  # some steps move to the history store
    await story(harness)
    harness.store.history = history
    harness.clock.advance(timedelta(days=40))
    await Archiver(harness.store, history, harness.clock, Retention()).run()
    kept = await snapshot(harness.runtime.ctx)
    await _forget_gauges(harness)
    assert not (await snapshot(harness.runtime.ctx)).steps

    # Several processes start at once: one backfills, the others leave it to that one.
    results = await asyncio.gather(*(backfill(harness.store, f"w{n}") for n in range(3)))
    assert sorted(r.ran for r in results) == [False, False, True]
    assert {r.state for r in results if not r.ran} <= {"done", "running:w0", "running:w1"}

    filled = await snapshot(harness.runtime.ctx)
    assert filled.steps == kept.steps
    assert filled.approval_latency == kept.approval_latency
    assert filled.decision_latency == kept.decision_latency

    again = await backfill(harness.store, "later")
    assert (again.ran, again.state) == (False, "done")
    assert (await snapshot(harness.runtime.ctx)).steps == kept.steps
