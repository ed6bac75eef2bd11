"""Operational counters the core keeps in Redis, so every process's work is counted in one
place and the metrics endpoint reads them at scrape time (no metrics library in the core).

A counter is a field of one hash: `name`, or `name|label` for one labelled series. On a
cluster there is one hash per hash tag (a commit counts in its own slot), summed when read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.notify.incidents import Incident
from orchestrator.store.keys import Keys
from orchestrator.store.tags import tags_in_use

if TYPE_CHECKING:
    from orchestrator.runtime.queue import JobQueue

log = logging.getLogger("baton.counters")

TICKS = "ticks"
LLM_CALLS = "llm_calls"
LLM_ERRORS = "llm_errors"
LLM_TOKENS = "llm_tokens"


JOB_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Bounds of the job handling latency histogram (seconds)."""
JOB_OUTCOMES = ("done", "failed", "dead", "deferred", "dropped")
"""How a handled job ended: committed, failed (retried later), dead-lettered, deferred
(waits out an outage or asked to run later), dropped (what it was about is gone)."""


def counters_key(keys: Keys) -> str:
    """The counters of work about no workspace (`Keys.counters` has one per tag)."""
    return keys.counters()


def open_incidents_key(keys: Keys) -> str:
    return keys.metrics("incidents_open")


def jobs_key(keys: Keys) -> str:
    """Jobs handled per kind: `n|kind|outcome` counts them, `le|kind|bound` is a cumulative
    latency bucket (`+Inf` counts all), `sum|kind` their total seconds."""
    return keys.metrics("jobs")


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


class Counters:
    """The operational counters as the core bumps them, through its store."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def bump(self, name: str, label: str = "", by: int = 1) -> None:
        """Count `by` more of `name` (in its `label` series, if given)."""
        await bump(self._redis, self._keys, name, label, by)

    async def track_incident(self, incident: Incident) -> None:
        """Count `incident` open, or closed when it is a resolve."""
        await track_incident(self._redis, self._keys, incident)


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


class JobTally:
    """Jobs this process handled, per kind and outcome, with their handling latency, added
    up in memory and sent to Redis at most every `every_s` (one MULTI of a few HINCRBYs
    per kind): the cost per job is a few dict updates, whatever the number of records."""

    def __init__(self, redis: Redis, keys: Keys, *, every_s: float = 1.0) -> None:
        self.redis = redis
        self.keys = keys
        self.every_s = every_s
        self._counts: Counter[str] = Counter()
        self._seconds: defaultdict[str, float] = defaultdict(float)
        self._flushing: set[asyncio.Task[None]] = set()
        self._due = False

    @classmethod
    def for_queue(cls, queue: JobQueue) -> JobTally:
        """A tally sent to the database `queue` reads its jobs from."""
        return cls(queue.redis, queue.keys)

    def record(self, kind: str, outcome: str, seconds: float) -> None:
        self._counts[f"n|{kind}|{outcome}"] += 1
        for bound in JOB_BUCKETS_S:
            if seconds <= bound:
                self._counts[f"le|{kind}|{bound:g}"] += 1
        self._counts[f"le|{kind}|+Inf"] += 1
        self._seconds[f"sum|{kind}"] += seconds
        if not self._due:
            self._due = True
            asyncio.get_running_loop().call_later(self.every_s, self._flush_later)

    def _flush_later(self) -> None:
        task = asyncio.ensure_future(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """Send what was recorded; kept for the next flush if Redis does not take it."""
        self._due = False
        counts, seconds = self._counts, self._seconds
        if not counts:
            return
        self._counts, self._seconds = Counter(), defaultdict(float)
        pipe = self.redis.pipeline(transaction=True)
        key = jobs_key(self.keys)
        for name, n in counts.items():
            pipe.hincrby(key, name, n)
        for name, total in seconds.items():
            pipe.hincrbyfloat(key, name, total)
        try:
            await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("job counts not sent yet (%s)", error)
            self._counts.update(counts)
            for name, total in seconds.items():
                self._seconds[name] += total
