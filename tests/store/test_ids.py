"""Step ids: reserved in blocks per process, unique across processes."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from orchestrator.store.keys import Keys, number_of_id, tag_of_id, tag_of_key
from orchestrator.store.redis_store import ID_BLOCK, RedisStore


async def test_one_process_hands_out_ids_in_order_with_one_trip_per_block(
    redis: Redis, keys: Keys
) -> None:
    store = RedisStore(redis, keys)
    first = await store.next_ids("s", 3, "T1")
    assert first == ["s1", "s2", "s3"]
    rest = [i for _ in range(ID_BLOCK) for i in await store.next_ids("s", 1, "T1")]
    assert rest == [f"s{n}" for n in range(4, ID_BLOCK + 4)]
    assert int(await redis.get(keys.sequence("s")) or 0) == 2 * ID_BLOCK  # two blocks
    assert await store.next_ids("s", 0, "T1") == []


async def test_processes_never_share_an_id(redis: Redis, keys: Keys) -> None:
    stores = [RedisStore(redis, keys) for _ in range(3)]

    async def plan(store: RedisStore) -> list[str]:
        return [i for n in range(30) for i in await store.next_ids("s", 1 + n % 3, "T1")]

    handed = [i for ids in await asyncio.gather(*(plan(s) for s in stores)) for i in ids]
    assert len(handed) == len(set(handed)) == 3 * sum(1 + n % 3 for n in range(30))


async def test_a_plan_larger_than_a_block_gets_its_ids_at_once(redis: Redis, keys: Keys) -> None:
    store = RedisStore(redis, keys)
    ids = await store.next_ids("s", ID_BLOCK + 5, "T1")
    assert ids == [f"s{n}" for n in range(1, ID_BLOCK + 6)]


def test_on_a_cluster_an_id_carries_its_workspaces_tag_and_names_its_keys() -> None:
    keys = Keys("baton", tagged=True)
    tag = keys.tag("T1")
    outcome = keys.new_id("o", 12, "T1")
    assert outcome == f"o12.{tag}" and tag_of_id(outcome) == tag and number_of_id(outcome) == 12
    same = {
        keys.outcome(outcome),
        keys.steps_of(outcome),
        keys.lease(f"outcome:{outcome}"),
        keys.outcomes_of("T1"),
        keys.audit("T1"),
        keys.kill_switch("T1"),
        keys.jobs(tag),
        keys.timers(tag),
    }
    assert {tag_of_key(key) for key in same} == {tag}
    assert keys.tag("T2") != tag  # another workspace, another slot (16.7M buckets)


def test_on_a_single_server_keys_and_ids_are_as_they_always_were() -> None:
    keys = Keys("baton")
    assert keys.new_id("o", 12, "T1") == "o12"
    assert keys.outcome("o12") == "baton:outcome:o12"
    assert keys.outcomes_of("T1") == "baton:ws:T1:outcomes"
    assert keys.jobs(keys.tag("T1")) == "baton:jobs"
    assert keys.lease("step:s3") == "baton:lease:step:s3"
