"""Operational counters the core keeps in Redis, so every process's work is counted in one
place and the metrics endpoint reads them at scrape time (no metrics library in the core).

A counter is a field of one hash: `name`, or `name|label` for one labelled series. On a
cluster there is one hash per hash tag (a commit counts in its own slot), summed when read.
"""

from __future__ import annotations

from redis.asyncio import Redis

from orchestrator.incidents import Incident
from orchestrator.store.keys import Keys
from orchestrator.store.tags import tags_in_use

TICKS = "ticks"
LLM_CALLS = "llm_calls"
LLM_ERRORS = "llm_errors"
LLM_TOKENS = "llm_tokens"


def counters_key(keys: Keys) -> str:
    """The counters of work about no workspace (`Keys.counters` has one per tag)."""
    return keys.counters()


def open_incidents_key(keys: Keys) -> str:
    return f"{keys.prefix}:metrics:incidents_open"


def field(name: str, label: str = "") -> str:
    return f"{name}|{label}" if label else name


async def bump(redis: Redis, keys: Keys, name: str, label: str = "", by: int = 1) -> None:
    await redis.hincrby(counters_key(keys), field(name, label), by)


async def track_incident(redis: Redis, keys: Keys, incident: Incident) -> None:
    """An incident is open from its trigger until a resolve with the same dedup key."""
    if incident.action == "resolve":
        await redis.srem(open_incidents_key(keys), incident.dedup_key)
    else:
        await redis.sadd(open_incidents_key(keys), incident.dedup_key)


async def read(redis: Redis, keys: Keys) -> dict[tuple[str, str], int]:
    """Every counter as {(name, label): value}; the label is "" when there is none."""
    values: dict[tuple[str, str], int] = {}
    for raw in await hashes(redis, [keys.counters(tag) for tag in await tags_in_use(redis, keys)]):
        for name, value in raw.items():
            text = name.decode() if isinstance(name, bytes) else str(name)
            base, _, label = text.partition("|")
            values[(base, label)] = values.get((base, label), 0) + int(value)
    return values


async def hashes(redis: Redis, names: list[str]) -> list[dict[bytes, bytes]]:
    """Every hash in `names`, in one pipelined round trip (per node, on a cluster)."""
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(name)
    return list(await pipe.execute())


async def incidents_open(redis: Redis, keys: Keys) -> int:
    return int(await redis.scard(open_incidents_key(keys)))
