"""Step ids: reserved in blocks per process, unique across processes."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import ID_BLOCK, RedisStore


async def test_one_process_hands_out_ids_in_order_with_one_trip_per_block(
    redis: Redis, keys: Keys
) -> None:
    store = RedisStore(redis, keys)
    first = await store.next_ids("s", 3)
    assert first == ["s1", "s2", "s3"]
    rest = [i for _ in range(ID_BLOCK) for i in await store.next_ids("s", 1)]
    assert rest == [f"s{n}" for n in range(4, ID_BLOCK + 4)]
    assert int(await redis.get(keys.sequence("s")) or 0) == 2 * ID_BLOCK  # two blocks
    assert await store.next_ids("s", 0) == []


async def test_processes_never_share_an_id(redis: Redis, keys: Keys) -> None:
    stores = [RedisStore(redis, keys) for _ in range(3)]

    async def plan(store: RedisStore) -> list[str]:
        return [i for n in range(30) for i in await store.next_ids("s", 1 + n % 3)]

    handed = [i for ids in await asyncio.gather(*(plan(s) for s in stores)) for i in ids]
    assert len(handed) == len(set(handed)) == 3 * sum(1 + n % 3 for n in range(30))


async def test_a_plan_larger_than_a_block_gets_its_ids_at_once(redis: Redis, keys: Keys) -> None:
    store = RedisStore(redis, keys)
    ids = await store.next_ids("s", ID_BLOCK + 5)
    assert ids == [f"s{n}" for n in range(1, ID_BLOCK + 6)]
