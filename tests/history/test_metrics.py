"""`/metrics` reads counters and gauges the commits keep, never the records: a scrape costs
the same however many outcomes there are, and it reports the archive's lag and the build."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.metrics import snapshot
from config.settings import Settings
from orchestrator.history.archive import Archiver, Retention
from orchestrator.history.store import HistoryStore
from orchestrator.store import redis_store
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.conftest import Harness
from tests.core.test_metrics import samples, serve, story


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
