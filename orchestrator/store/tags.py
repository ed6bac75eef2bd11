"""The hash tags in use on a cluster: a plain set, read and added to without cross-slot
operations. Workers read the job stream of every tag in it, and the clock moves timers of
every tag in it. On a single server the only tag is ''."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from orchestrator.store.keys import Keys

AnyRedis = Redis | RedisCluster
"""A client to one server or to a cluster: the store talks to either."""


async def tags_in_use(redis: AnyRedis, keys: Keys) -> list[str]:
    """'' (the untagged stream, for work about no workspace) and every registered tag."""
    if not keys.tagged:
        return [""]
    members = await redis.smembers(keys.tags())
    return ["", *sorted(_text(m) for m in members)]


async def register_tag(redis: AnyRedis, keys: Keys, tag: str) -> None:
    if tag:
        await redis.sadd(keys.tags(), tag)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
