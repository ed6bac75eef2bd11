"""The job queue: a Redis Stream with a consumer group, and timers in a sorted set.

Every piece of work (tick an outcome, execute a step, deliver a notice, time an
approval out, run an intake) is a job. Timers hold jobs until they are due; the clock
moves due timers into the stream, at a cost that grows with what is due only.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from orchestrator import tracing
from orchestrator.errors import TakenOver
from orchestrator.store.commit import COMMIT_LUA, Commit
from orchestrator.store.keys import Keys

MOVE_DUE_LUA = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  local job = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if job then redis.call('XADD', KEYS[3], '*', 'job', job) end
end
return #due
"""

OWNED = """
local function owned(stream, group, entry, consumer)
  local p = redis.call('XPENDING', stream, group, entry, entry, 1)
  return #p > 0 and p[1][2] == consumer
end
"""
"""Whether `consumer` still holds `entry` (a job it read and nobody took over since)."""

RENEW_LUA = (
    OWNED
    + """
local kept = {}
for i = 3, #ARGV do
  if owned(KEYS[1], ARGV[1], ARGV[i], ARGV[2]) then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    kept[#kept + 1] = ARGV[i]
  end
end
return kept
"""
)
"""KEYS: the stream. ARGV: the group, the consumer, the entries it is running. Resets the
idle time of those it still holds (JUSTID: without counting a delivery); returns them."""

SETTLE_LUA = (
    OWNED
    + """
for i = 3, #ARGV do
  if owned(KEYS[1], ARGV[1], ARGV[i], ARGV[2]) then
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
    redis.call('XDEL', KEYS[1], ARGV[i])
  end
end
return 0
"""
)
"""Acknowledge and drop the entries `consumer` still holds; one taken over is left alone."""

GROUP = "workers"


@dataclass(frozen=True)
class Job:
    """One unit of work read from the stream."""

    entry_id: str
    kind: str
    payload: dict[str, Any]
    attempt: int = 0
    reclaimed: bool = False
    """Taken over from a worker that held it past the visibility timeout (presumed dead)."""
    deliveries: int = 1
    """How often the stream handed this entry to a worker; above one, workers died on it."""
    since: float | None = None
    """When the outage this job waits out began (epoch seconds); None when it waits none."""
    consumer: str = ""
    """The worker that read it: its fencing token, with the entry id. Whatever the job
    commits, and its acknowledgement, applies only while this consumer still holds it."""
    trace: str | None = None
    """The W3C `traceparent` of what enqueued it (`orchestrator.tracing`), if traced."""


def encode(
    kind: str,
    payload: dict[str, Any],
    attempt: int = 0,
    since: float | None = None,
    trace: str | None = None,
) -> str:
    job: dict[str, Any] = {"kind": kind, "payload": payload, "attempt": attempt}
    if since is not None:
        job["since"] = since
    if trace:
        job["trace"] = trace
    return orjson.dumps(job, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


@dataclass(eq=False)
class Delivery:
    """One job being handled: its paced calls so far, and the commit that acknowledged it."""

    job: Job
    calls: int = field(default=0)
    ack: Commit | None = None
    lost: bool = False
    """Another worker took the job over (this one held it past the visibility timeout
    without renewing): nothing this one commits for it applies any more."""

    @property
    def acknowledged(self) -> bool:
        """Whether a commit of the handler acknowledged the job (and applied)."""
        return self.ack is not None and self.ack.applied

    @property
    def fenced(self) -> bool:
        """Whether the job's commits must prove the job is still this worker's: once a
        commit acknowledged it, nobody can take it over any more."""
        return bool(self.job.consumer) and not self.acknowledged


_DELIVERY: ContextVar[Delivery | None] = ContextVar("baton_delivery", default=None)


@contextmanager
def delivering(job: Job) -> Iterator[Delivery]:
    """Mark what runs inside as part of `job`: paced calls name themselves stably, and a
    handler's closing commit can acknowledge the job (`JobQueue.ack_in`)."""
    delivery = Delivery(job)
    token = _DELIVERY.set(delivery)
    try:
        yield delivery
    finally:
        _DELIVERY.reset(token)


def current_delivery() -> Delivery | None:
    """The job being handled by the running task, if any."""
    return _DELIVERY.get()


def fence_in(commit: Commit, stream: str) -> Commit:
    """Make `commit` apply only while the running job is still its worker's: a worker
    whose job was taken over (it ran past the visibility timeout) commits nothing more."""
    delivery = _DELIVERY.get()
    if delivery is not None and delivery.fenced:
        job = delivery.job
        commit.held(stream, GROUP, job.entry_id, job.consumer)
    return commit


def next_delivery_call() -> str | None:
    """A stable name for the next outbound call of the running job; None outside jobs.

    The name is the job's kind and payload, which survive a deferral (the entry id does not),
    so a call that waited for its turn finds the turn it was given when the job comes back.
    It is worked out here, for the jobs that post, not for every job the worker runs.
    """
    delivery = _DELIVERY.get()
    if delivery is None:
        return None
    delivery.calls += 1
    job = delivery.job
    digest = hashlib.sha1(encode(job.kind, job.payload).encode(), usedforsecurity=False)
    return f"{job.kind}:{digest.hexdigest()[:20]}:{delivery.calls}"


class JobQueue:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._move_due = redis.register_script(MOVE_DUE_LUA)
        self._renew = redis.register_script(RENEW_LUA)
        self._settle = redis.register_script(SETTLE_LUA)
        self._commit = redis.register_script(COMMIT_LUA)
        self._gathered: list[tuple[str, asyncio.Future[None]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.jobs(), GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def enqueue_in(self, commit: Commit, kind: str, payload: dict[str, Any]) -> Commit:
        """Add the job to `commit`, so it is queued if and only if the commit applies."""
        job = encode(kind, payload, trace=tracing.traceparent())
        return commit.op("XADD", self.keys.jobs(), "*", "job", job)

    def ack_in(self, commit: Commit) -> Commit:
        """Acknowledge the job being handled in `commit`, if a job is: the job is then done
        if and only if its work is, and no crash can fall between the two (nor a second
        round trip). Outside a job (a direct call), or once an applied commit has
        acknowledged the job, it adds nothing."""
        delivery = _DELIVERY.get()
        if delivery is None or delivery.acknowledged:  # outside a job, or already done
            return commit
        delivery.ack = commit
        entry = delivery.job.entry_id
        commit.op("XACK", self.keys.jobs(), GROUP, entry)
        return commit.op("XDEL", self.keys.jobs(), entry)

    def schedule_in(
        self, commit: Commit, timer_id: str, due: datetime, kind: str, payload: dict[str, Any]
    ) -> Commit:
        """Add a timer to `commit`; a timer with the same id is replaced, never doubled."""
        commit.op("HSET", self.keys.timer_jobs(), timer_id, encode(kind, payload))
        return commit.op("ZADD", self.keys.timers(), due.timestamp(), timer_id)

    def cancel_in(self, commit: Commit, timer_id: str) -> Commit:
        commit.op("ZREM", self.keys.timers(), timer_id)
        return commit.op("HDEL", self.keys.timer_jobs(), timer_id)

    async def enqueue(self, kind: str, payload: dict[str, Any], attempt: int = 0) -> None:
        job = encode(kind, payload, attempt, trace=tracing.traceparent())
        await self.redis.xadd(self.keys.jobs(), {"job": job})

    async def enqueue_gathered(self, kind: str, payload: dict[str, Any]) -> None:
        """Enqueue with whatever else this process enqueues in the same turn of the event
        loop: one pipelined round trip for all of them (fifty clicks in flight cost a few
        trips, not fifty). Returns, as `enqueue` does, once Redis holds the job."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._gathered.append((encode(kind, payload, trace=tracing.traceparent()), done))
        if len(self._gathered) == 1:
            asyncio.get_running_loop().call_soon(self._send_gathered)
        await done

    def _send_gathered(self) -> None:
        batch, self._gathered = self._gathered, []
        task = asyncio.ensure_future(self._xadd_all(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _xadd_all(self, batch: list[tuple[str, asyncio.Future[None]]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for job, _ in batch:
            pipe.xadd(self.keys.jobs(), {"job": job})
        try:
            await pipe.execute()
        except BaseException as error:  # each waiting request answers for itself
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def schedule(
        self, timer_id: str, due: datetime, kind: str, payload: dict[str, Any], attempt: int = 0
    ) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.timer_jobs(), timer_id, encode(kind, payload, attempt))
        pipe.zadd(self.keys.timers(), {timer_id: due.timestamp()})
        await pipe.execute()

    async def move_due(self, now: datetime, limit: int = 500) -> int:
        """Move timers due by `now` into the stream; returns how many moved."""
        keys = [self.keys.timers(), self.keys.timer_jobs(), self.keys.jobs()]
        return int(await self._move_due(keys=keys, args=[now.timestamp(), limit]))

    async def next_due(self) -> float | None:
        first = await self.redis.zrange(self.keys.timers(), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def read(
        self,
        consumer: str,
        count: int = 10,
        block_ms: int | None = None,
        *,
        acks: list[str] | None = None,
    ) -> list[Job]:
        """Up to `count` new jobs; `acks`, entries handled since the last read, are
        acknowledged in the same round trip."""
        if acks:
            pipe = self.redis.pipeline(transaction=False)
            await self._settle(keys=[self.keys.jobs()], args=[GROUP, consumer, *acks], client=pipe)
            pipe.xreadgroup(GROUP, consumer, {self.keys.jobs(): ">"}, count=count, block=block_ms)
            reply: Any = (await pipe.execute())[-1]
        else:
            reply = await self.redis.xreadgroup(
                GROUP, consumer, {self.keys.jobs(): ">"}, count=count, block=block_ms
            )
        return [
            _job(entry_id, fields, consumer)
            for _, entries in reply or []
            for entry_id, fields in entries
        ]

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int = 1) -> list[Job]:
        """Take over jobs a crashed worker read but never acknowledged, with how often
        each was delivered (a job that kills its worker every time must not loop forever).
        """
        reply = await self.redis.xautoclaim(
            self.keys.jobs(), GROUP, consumer, min_idle_ms, start_id="0-0", count=count
        )
        claimed = [(_text(entry_id), fields) for entry_id, fields in reply[1] if fields]
        if not claimed:
            return []
        deliveries = await self._deliveries(consumer, [entry_id for entry_id, _ in claimed])
        return [
            replace(
                _job(entry_id, fields, consumer),
                reclaimed=True,
                deliveries=deliveries.get(entry_id, 2),
            )
            for entry_id, fields in claimed
        ]

    async def _deliveries(self, consumer: str, entry_ids: list[str]) -> dict[str, int]:
        """Delivery counts of entries this consumer holds (XAUTOCLAIM does not return them)."""
        rows: Any = await self.redis.xpending_range(
            self.keys.jobs(),
            GROUP,
            min=entry_ids[0],
            max=entry_ids[-1],
            count=len(entry_ids) + 100,
            consumername=consumer,
        )
        return {_text(row["message_id"]): int(row["times_delivered"]) for row in rows}

    async def renew(self, consumer: str, entry_ids: list[str]) -> set[str]:
        """Keep the jobs `consumer` is running from being taken over (reset their idle
        time); returns those it still holds. A job missing from the answer was taken over."""
        kept = await self._renew(keys=[self.keys.jobs()], args=[GROUP, consumer, *entry_ids])
        return {_text(entry_id) for entry_id in kept}

    async def ack_all(self, consumer: str, entry_ids: list[str]) -> None:
        """Acknowledge and drop handled entries `consumer` still holds, in one round trip."""
        await self._settle(keys=[self.keys.jobs()], args=[GROUP, consumer, *entry_ids])

    async def retry_later(self, job: Job, due: datetime) -> None:
        """Acknowledge and re-schedule with one more attempt, in one transaction."""
        await self._reschedule(job, f"retry:{job.entry_id}", due, job.attempt + 1, None)

    async def wait_out(self, job: Job, due: datetime, since: float) -> None:
        """Acknowledge and re-schedule with the same attempt, remembering since when the
        job has waited out an outage (`Unavailable`), in one transaction."""
        await self._reschedule(job, f"wait:{job.entry_id}", due, job.attempt, since)

    async def defer(self, job: Job, due: datetime) -> None:
        """Acknowledge and re-schedule unchanged (same attempt), in one transaction."""
        await self._reschedule(job, f"defer:{job.entry_id}", due, job.attempt, job.since)

    async def _reschedule(
        self, job: Job, timer_id: str, due: datetime, attempt: int, since: float | None
    ) -> None:
        commit = Commit()
        commit.op(
            "HSET",
            self.keys.timer_jobs(),
            timer_id,
            encode(job.kind, job.payload, attempt, since, job.trace),
        )
        commit.op("ZADD", self.keys.timers(), due.timestamp(), timer_id)
        await self._settle_with(job, commit)

    async def dead_letter(self, job: Job, error: str) -> None:
        entry = encode(job.kind, job.payload, job.attempt, job.since, job.trace)
        commit = Commit().op(
            "XADD", self.keys.dead_letters(), "*", "job", entry, "error", error[:2000]
        )
        await self._settle_with(job, commit)

    async def release(self, job: Job) -> None:
        """Hand an unfinished job back at once (graceful shutdown): re-queue and acknowledge
        in one transaction, so it is neither lost nor left waiting for the visibility timeout.
        """
        entry = encode(job.kind, job.payload, job.attempt, job.since, job.trace)
        await self._settle_with(job, Commit().op("XADD", self.keys.jobs(), "*", "job", entry))

    async def _settle_with(self, job: Job, commit: Commit) -> None:
        """Apply `commit` and acknowledge `job` together, only while its reader holds it:
        a job another worker took over is that worker's to finish (`TakenOver`)."""
        if job.consumer:
            commit.held(self.keys.jobs(), GROUP, job.entry_id, job.consumer)
        commit.op("XACK", self.keys.jobs(), GROUP, job.entry_id)
        commit.op("XDEL", self.keys.jobs(), job.entry_id)
        ok, _, _ = await self._commit(args=[commit.to_json()])
        if int(ok) != 1:
            raise TakenOver(job.entry_id)
        commit.applied = True

    async def pending(self) -> int:
        """Jobs read by some worker and not yet acknowledged."""
        info: Any = await self.redis.xpending(self.keys.jobs(), GROUP)
        return int(info["pending"]) if info else 0

    async def prune_consumers(self, idle_ms: int = 3_600_000) -> int:
        """Forget consumers that hold nothing and were idle for long (restarted workers)."""
        pruned = 0
        for consumer in await self.redis.xinfo_consumers(self.keys.jobs(), GROUP):
            if int(consumer["pending"]) == 0 and int(consumer["idle"]) > idle_ms:
                await self.redis.xgroup_delconsumer(self.keys.jobs(), GROUP, consumer["name"])
                pruned += 1
        return pruned

    async def backlog(self) -> int:
        """Jobs waiting or in flight."""
        return int(await self.redis.xlen(self.keys.jobs()))

    async def dead(self) -> int:
        return int(await self.redis.xlen(self.keys.dead_letters()))


def _job(entry_id: bytes | str, fields: dict[bytes | str, bytes | str], consumer: str) -> Job:
    raw = fields.get(b"job", fields.get("job", "{}"))
    data = orjson.loads(raw)
    since = data.get("since")
    return Job(
        _text(entry_id),
        data["kind"],
        data["payload"],
        int(data.get("attempt", 0)),
        consumer=consumer,
        since=float(since) if since is not None else None,
        trace=data.get("trace"),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def consumer_name(role: str = "worker") -> str:
    """A consumer name unique per process and readable in XINFO: role, host, pid, nonce.

    The nonce keeps a restarted process with a recycled pid (common in containers) from
    inheriting its predecessor's pending entries under the same name.
    """
    return f"{role}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
