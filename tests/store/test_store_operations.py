"""The store's named operations that the core calls instead of the raw client, on a single
server and on a local 3-master Redis Cluster (each operation's keys in one slot)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
from redis.asyncio import Redis

from orchestrator.store.client import redis_client
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore

WORKSPACE = "T1"


@pytest.fixture(params=["single", "cluster"])
async def store(
    request: pytest.FixtureRequest, redis: Redis, keys: Keys
) -> AsyncIterator[RedisStore]:
    cluster = None
    if request.param == "cluster":
        cluster = redis = redis_client(request.getfixturevalue("cluster_url"))
        keys = Keys(f"test:{uuid.uuid4().hex[:12]}", tagged=True)
    yield RedisStore(redis, keys)
    if cluster is not None:
        async for key in cluster.scan_iter(match=f"{keys.prefix}:*", count=1000):
            await cluster.delete(key)
        await cluster.aclose()


async def test_flags_mark_once_swap_count_and_list(store: RedisStore) -> None:
    flags, key = store.flags, store.keys.flag("offer", store.keys.tag(WORKSPACE))
    assert not await flags.raised(key)
    assert await flags.raise_once(key, ttl_s=60) and not await flags.raise_once(key, ttl_s=60)
    assert await flags.raised(key)
    assert (
        await flags.swap(key, "b", ttl_s=60) == "1" and await flags.swap(key, "c", ttl_s=60) == "b"
    )
    run = store.keys.flag("run", store.keys.tag(WORKSPACE))
    assert [await flags.count(run, ttl_s=60) for _ in range(3)] == [1, 2, 3]
    await flags.lower(run)
    assert await flags.count(run, ttl_s=60) == 1
    assert await flags.marks(store.keys.flag("none")) == []


async def test_a_channel_outage_queues_in_order_and_ends(store: RedisStore) -> None:
    outages, channel = store.outages, f"slack:{WORKSPACE}:C1"
    assert (await outages.turn(channel, "a", now=100.0, stale_s=300)).may_call
    since, page = await outages.failed(channel, "a", now=100.0, page_after_s=180, ttl_s=600)
    assert (since, page) == (100.0, False)
    waiting = await outages.turn(channel, "b", now=101.0, stale_s=300)
    assert not waiting.may_call and waiting.ahead == 1 and waiting.failing_since == 100.0
    assert (await outages.turn(channel, "a", now=102.0, stale_s=300)).tell
    ended = await outages.recovered(channel)
    assert ended.since == 100.0 and not ended.paged and ended.lost == 0
    await outages.leave(channel, "a")
    assert (await outages.turn(channel, "b", now=103.0, stale_s=300)).may_call
    assert (await outages.recovered(channel)).since is None


async def test_a_deliverys_calls_are_remembered(store: RedisStore) -> None:
    records = store.call_records("notice:n1")
    assert await records.answer("1") is None and await records.attempted_at("1") is None
    await records.mark_attempted("1", 12.5)
    await records.mark_attempted("1", 99.0)  # the first mark stays
    assert await records.attempted_at("1") == 12.5
    await records.remember("1", {"ts": "1.2"})
    assert await records.answer("1") == {"ts": "1.2"}
    await records.forget_attempt("1")
    assert await records.attempted_at("1") is None


async def test_tokens_cases_names_and_rate_windows(store: RedisStore) -> None:
    outcome_id = store.keys.new_id("o", 1, WORKSPACE)
    day = date(2027, 1, 4)
    await store.tokens.add(workspace=WORKSPACE, day=day, outcome_id=outcome_id, input=3, output=4)
    assert await store.tokens.used_on(WORKSPACE, day) == 7
    assert await store.tokens.used_by(outcome_id) == (3, 4)
    counts = await store.cases.counts(outcome_id, 3600.0, 1_000.0)
    assert (counts.done, counts.open, counts.overdue, counts.failed) == (0, 0, 0, 0)
    assert await store.cases.open_cases(outcome_id, 10) == []
    assert await store.cases.cursor(WORKSPACE, "crm") is None
    await store.cases.save_cursor(WORKSPACE, "crm", {"at": date(2027, 1, 4)})
    assert await store.cases.cursor(WORKSPACE, "crm") == {"at": "2027-01-04"}
    await store.names.keep("slack", WORKSPACE, "U1", "Olivia", ttl_s=60)
    assert await store.names.name("slack", WORKSPACE, "U1") == "Olivia"
    assert await store.names.name("slack", WORKSPACE, "U2") is None
    counted = [await store.count_message(WORKSPACE, "U1", 7, ttl_s=60) for _ in range(2)]
    assert counted == [1, 2]
