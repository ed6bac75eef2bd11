"""The hash tags in use on a cluster: a plain set, read and added to without cross-slot
operations. Workers read the job stream of every tag in it, and the clock moves timers of
every tag in it. On a single server the only tag is ''."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from orchestrator.store.keys import Keys

AnyRedis = Redis | RedisCluster
"""A client to one server or to a cluster: the store talks to either."""


_REGISTERED: dict[str, set[str]] = {}
"""Per key prefix, the tags this process registered: its own queue reads them at once,
without waiting to read the set again."""


async def tags_in_use(redis: AnyRedis, keys: Keys) -> list[str]:
    """'' (the stream of work about no workspace) and every registered tag."""
    if not keys.tagged:
        return [""]
    members = {_text(m) for m in await redis.smembers(keys.tags())}
    return ["", *sorted(members | registered_here(keys))]


def registered_here(keys: Keys) -> set[str]:
    return _REGISTERED.get(keys.prefix, set())


async def register_tag(redis: AnyRedis, keys: Keys, tag: str) -> None:
    """Add `tag` to the tags in use (once per process)."""
    if tag and tag not in registered_here(keys):
        await redis.sadd(keys.tags(), tag)
        _REGISTERED.setdefault(keys.prefix, set()).add(tag)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
