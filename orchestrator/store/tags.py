"""The hash tags in use on a cluster: a plain set, read and added to without cross-slot
operations. Workers read the job stream of every tag in it, and the clock moves timers of
every tag in it. On a single server the only tag is ''."""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from orchestrator.store.keys import Keys

AnyRedis = Redis | RedisCluster
"""A client to one server or to a cluster: the store talks to either."""


AGAIN_S = 10.0
"""A tag this process registered is added to the set again after this long, should the
set have been lost since (a server restarted without its data)."""

_REGISTERED: dict[str, dict[str, float]] = {}
"""Per key prefix, the tags this process registered and when: its own queue reads them at
once, without waiting to read the set again."""


async def tags_in_use(redis: AnyRedis, keys: Keys) -> list[str]:
    """'' (the stream of work about no workspace) and every registered tag."""
    if not keys.tagged:
        return [""]
    members = {_text(m) for m in await redis.smembers(keys.tags())}
    return ["", *sorted(members | registered_here(keys))]


def registered_here(keys: Keys) -> set[str]:
    return set(_REGISTERED.get(keys.prefix, {}))


async def register_tag(redis: AnyRedis, keys: Keys, tag: str) -> None:
    """Add `tag` to the tags in use (once per process every `AGAIN_S`)."""
    if not tag:
        return
    known = _REGISTERED.setdefault(keys.prefix, {})
    now = time.monotonic()
    if now - known.get(tag, -AGAIN_S) >= AGAIN_S:
        await redis.sadd(keys.tags(), tag)
        known[tag] = now


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
