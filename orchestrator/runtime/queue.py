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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from orchestrator.errors import TakenOver
from orchestrator.runtime import tracing
from orchestrator.store.commit import COMMIT_LUA, Commit
from orchestrator.store.keys import SAME_SLOT, Keys
from orchestrator.store.scripts import script_text
from orchestrator.store.tags import AnyRedis, register_tag, registered_here, tags_in_use

if TYPE_CHECKING:
    from orchestrator.runtime.messages import Message

MOVE_DUE_LUA = script_text("move_due")
RENEW_LUA = script_text("renew")
SETTLE_LUA = script_text("settle")

TAGS_FRESH_S = 1.0
"""How long a queue uses the tags in use it read before reading them again (a cluster)."""

POLL_S = 0.05
"""On a cluster, how long a read that found nothing in any stream waits before it returns
(a blocking read cannot wait on streams in several slots at once)."""

GROUP = "workers"


@dataclass(frozen=True)
class Job:
    """One unit of work read from the stream, as it is there: its message's kind and
    payload are decoded by the worker (`orchestrator.runtime.dispatch`), and kept as read,
    so a job retried, deferred or set aside is queued again exactly as it came."""

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
    """The W3C `traceparent` of what enqueued it (`orchestrator.runtime.tracing`), if traced."""


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

    def next_call(self) -> str:
        """A stable name for the job's next paced outbound call made outside a delivery's
        call log (`bot.pacing`): a call that waited for its turn finds the turn it was
        given when the job comes back.

        The name is the job's kind and payload, which survive a deferral (the entry id
        does not), and the call's place among the job's calls."""
        self.calls += 1
        job = self.job
        digest = hashlib.sha1(encode(job.kind, job.payload).encode(), usedforsecurity=False)
        return f"{job.kind}:{digest.hexdigest()[:20]}:{self.calls}"


def fence_in(commit: Commit, keys: Keys, work: Delivery | None) -> Commit:
    """Make `commit` apply only while `work`, the job it is made for, is still its
    worker's: a worker whose job was taken over (it ran past the visibility timeout)
    commits nothing more. The job's stream has the tag of what the job changes, so the
    fence is in the commit's slot. Outside a job (`work` None), it adds nothing."""
    if work is not None and work.fenced:
        job = work.job
        tag, entry = located(job.entry_id)
        commit.held(keys.jobs(tag), GROUP, entry, job.consumer)
    return commit


def located(entry_id: str) -> tuple[str, str]:
    """The tag of a job's stream and its entry id there (`Job.entry_id` on a cluster is
    `<entry>@<tag>`, since two streams can have entries with the same id)."""
    entry, _, tag = entry_id.partition("@")
    return tag, entry


class JobQueue:
    """The job streams and timers: one of each on a single server, one per hash tag on a
    cluster (`Keys`), where a worker reads every tag's stream in turn and the clock moves
    every tag's timers. A job lives in the stream of the tag of what it changes, so its
    fence, its acknowledgement and its work commit in one slot."""

    def __init__(self, redis: AnyRedis, keys: Keys) -> None:
        self.redis: Redis = cast(Redis, redis)  # a cluster client answers the same calls
        self.keys = keys
        self._move_due = redis.register_script(MOVE_DUE_LUA)
        self._renew = redis.register_script(RENEW_LUA)
        self._settle = redis.register_script(SETTLE_LUA)
        self._commit = redis.register_script(COMMIT_LUA)
        self._gathered: list[tuple[str, str, asyncio.Future[None]]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._tags: list[str] = [""]
        self._tags_read_at: float | None = None
        self._grouped: set[str] = set()
        """The tags whose stream has the group, as far as this queue made sure."""
        self._turn = 0
        """Which stream a read starts with: each in turn, so none waits behind another."""

    async def tags(self) -> list[str]:
        """The tags in use ('' alone on a single server), read again after `TAGS_FRESH_S`;
        each tag's stream has the consumer group."""
        if not self.keys.tagged:
            return self._tags
        now = asyncio.get_running_loop().time()
        if self._tags_read_at is None or now - self._tags_read_at > TAGS_FRESH_S:
            self._tags = await tags_in_use(self.redis, self.keys)
            self._tags_read_at = now
        elif not registered_here(self.keys).issubset(self._tags):
            self._tags = sorted({*self._tags, *registered_here(self.keys)})
        await self._ensure_groups(self._tags)  # a new tag's stream gets the group first
        return self._tags

    async def ensure_group(self) -> None:
        """Create the consumer group on every tag's stream (Redis may have lost them)."""
        self._grouped.clear()
        await self._ensure_groups(await self.tags())

    async def _ensure_groups(self, tags: list[str]) -> None:
        for tag in tags:
            if tag in self._grouped:
                continue
            try:
                await self.redis.xgroup_create(self.keys.jobs(tag), GROUP, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
            self._grouped.add(tag)

    def enqueue_in(self, commit: Commit, message: Message) -> Commit:
        """Add the job to `commit`, so it is queued if and only if the commit applies (in
        the stream of the commit's own tag)."""
        job = encode(message.KIND, message.payload(), trace=tracing.traceparent())
        return commit.op("XADD", self.keys.jobs(SAME_SLOT), "*", "job", job)

    def ack_in(self, commit: Commit, work: Delivery | None) -> Commit:
        """Acknowledge `work`, the job being handled, in `commit`: the job is then done if
        and only if its work is, and no crash can fall between the two (nor a second round
        trip). Outside a job (`work` None: a direct call), or once an applied commit has
        acknowledged the job, it adds nothing."""
        if work is None or work.acknowledged:  # outside a job, or already done
            return commit
        work.ack = commit
        tag, entry = located(work.job.entry_id)
        commit.op("XACK", self.keys.jobs(tag), GROUP, entry)
        return commit.op("XDEL", self.keys.jobs(tag), entry)

    def schedule_in(self, commit: Commit, timer_id: str, due: datetime, message: Message) -> Commit:
        """Add a timer to `commit`; a timer with the same id is replaced, never doubled."""
        job = encode(message.KIND, message.payload())
        commit.op("HSET", self.keys.timer_jobs(SAME_SLOT), timer_id, job)
        return commit.op("ZADD", self.keys.timers(SAME_SLOT), due.timestamp(), timer_id)

    def cancel_in(self, commit: Commit, timer_id: str) -> Commit:
        commit.op("ZREM", self.keys.timers(SAME_SLOT), timer_id)
        return commit.op("HDEL", self.keys.timer_jobs(SAME_SLOT), timer_id)

    async def _tag(self, workspace: str) -> str:
        """The tag of `workspace`'s stream, registered as in use (once per queue)."""
        tag = self.keys.tag(workspace)
        await register_tag(self.redis, self.keys, tag)  # read here at once, elsewhere in 1 s
        return tag

    async def enqueue(self, message: Message, attempt: int = 0, *, workspace: str = "") -> None:
        """Queue a job about `workspace` (in its stream), or about none."""
        stream = self.keys.jobs(await self._tag(workspace))
        job = encode(message.KIND, message.payload(), attempt, trace=tracing.traceparent())
        await self.redis.xadd(stream, {"job": job})

    async def enqueue_gathered(self, message: Message, *, workspace: str = "") -> None:
        """Enqueue with whatever else this process enqueues in the same turn of the event
        loop: one pipelined round trip for all of them (fifty clicks in flight cost a few
        trips, not fifty). Returns, as `enqueue` does, once Redis holds the job."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        stream = self.keys.jobs(await self._tag(workspace))
        job = encode(message.KIND, message.payload(), trace=tracing.traceparent())
        self._gathered.append((stream, job, done))
        if len(self._gathered) == 1:
            asyncio.get_running_loop().call_soon(self._send_gathered)
        await done

    def _send_gathered(self) -> None:
        batch, self._gathered = self._gathered, []
        task = asyncio.ensure_future(self._xadd_all(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _xadd_all(self, batch: list[tuple[str, str, asyncio.Future[None]]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for stream, job, _ in batch:
            pipe.xadd(stream, {"job": job})
        try:
            await pipe.execute()
        except BaseException as error:  # each waiting request answers for itself
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for _, _, done in batch:
            if not done.done():
                done.set_result(None)

    async def schedule(
        self,
        timer_id: str,
        due: datetime,
        message: Message,
        attempt: int = 0,
        *,
        workspace: str = "",
    ) -> None:
        """Set a timer for a job about `workspace` (its tag's timers), or about none."""
        tag = await self._tag(workspace)
        job = encode(message.KIND, message.payload(), attempt)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.timer_jobs(tag), timer_id, job)
        pipe.zadd(self.keys.timers(tag), {timer_id: due.timestamp()})
        await pipe.execute()

    async def scheduled(self, timer_id: str, workspace: str = "") -> bool:
        """Whether the timer `timer_id` about `workspace` (or about none) is set."""
        timers = self.keys.timers(self.keys.tag(workspace))
        return await self.redis.zscore(timers, timer_id) is not None

    async def move_due(self, now: datetime, limit: int = 500) -> int:
        """Move timers due by `now` into the streams, every tag's; returns how many moved
        (at most `limit` per tag)."""
        tags = await self.tags()
        moved = await asyncio.gather(
            *(
                self._move_due(
                    keys=[self.keys.timers(tag), self.keys.timer_jobs(tag), self.keys.jobs(tag)],
                    args=[now.timestamp(), limit],
                )
                for tag in tags
            )
        )
        return sum(int(each) for each in moved)

    async def next_due(self) -> float | None:
        pipe = self.redis.pipeline(transaction=False)
        for tag in await self.tags():
            pipe.zrange(self.keys.timers(tag), 0, 0, withscores=True)
        firsts = [float(first[0][1]) for first in await pipe.execute() if first]
        return min(firsts) if firsts else None

    def _entry(self, tag: str, entry_id: bytes | str) -> str:
        """A job's entry id as the worker knows it (with its stream's tag on a cluster)."""
        return f"{_text(entry_id)}@{tag}" if self.keys.tagged else _text(entry_id)

    def _by_stream(self, entry_ids: list[str]) -> dict[str, list[str]]:
        """Entry ids grouped by the tag of their stream, as each stream knows them."""
        grouped: dict[str, list[str]] = {}
        for entry_id in entry_ids:
            tag, entry = located(entry_id)
            grouped.setdefault(tag, []).append(entry)
        return grouped

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
        if not self.keys.tagged:
            return await self._read_one(consumer, count, block_ms, acks or [])
        tags = await self.tags()
        self._turn = (self._turn + 1) % len(tags)
        order = tags[self._turn :] + tags[: self._turn]
        if acks:
            await self.ack_all(consumer, acks)
        each = max(1, -(-count // len(order)))
        pipe = self.redis.pipeline(transaction=False)  # one round trip per node
        for tag in order:
            pipe.xreadgroup(GROUP, consumer, {self.keys.jobs(tag): ">"}, count=each)
        replies = await pipe.execute()
        jobs = [
            _job(self._entry(tag, entry_id), fields, consumer)
            for tag, reply in zip(order, replies, strict=True)
            for _, entries in reply or []
            for entry_id, fields in entries
        ]
        if not jobs and block_ms:
            await asyncio.sleep(min(block_ms / 1000, POLL_S))
        return jobs

    async def _read_one(
        self, consumer: str, count: int, block_ms: int | None, acks: list[str]
    ) -> list[Job]:
        """A single server's read: one stream, waiting up to `block_ms` for a job."""
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
        each was delivered (a job that kills its worker every time must not loop forever):
        from the first stream, every tag's in turn, that has any.
        """
        for tag in await self.tags():
            stream = self.keys.jobs(tag)
            reply = await self.redis.xautoclaim(
                stream, GROUP, consumer, min_idle_ms, start_id="0-0", count=count
            )
            claimed = [(_text(entry_id), fields) for entry_id, fields in reply[1] if fields]
            if not claimed:
                continue
            ids = [entry_id for entry_id, _ in claimed]
            deliveries = await self._deliveries(stream, consumer, ids)
            return [
                replace(
                    _job(self._entry(tag, entry_id), fields, consumer),
                    reclaimed=True,
                    deliveries=deliveries.get(entry_id, 2),
                )
                for entry_id, fields in claimed
            ]
        return []

    async def _deliveries(self, stream: str, consumer: str, entry_ids: list[str]) -> dict[str, int]:
        """Delivery counts of entries this consumer holds (XAUTOCLAIM does not return them)."""
        rows: Any = await self.redis.xpending_range(
            stream,
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
        grouped = self._by_stream(entry_ids)
        kept = await asyncio.gather(
            *(
                self._renew(keys=[self.keys.jobs(tag)], args=[GROUP, consumer, *entries])
                for tag, entries in grouped.items()
            )
        )
        return {
            self._entry(tag, entry)
            for tag, held in zip(grouped, kept, strict=True)
            for entry in held
        }

    async def ack_all(self, consumer: str, entry_ids: list[str]) -> None:
        """Acknowledge and drop handled entries `consumer` still holds, in one round trip per
        stream (side by side: a cluster client does not load scripts inside a pipeline)."""
        await asyncio.gather(
            *(
                self._settle(keys=[self.keys.jobs(tag)], args=[GROUP, consumer, *entries])
                for tag, entries in self._by_stream(entry_ids).items()
            )
        )

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
        tag, _ = located(job.entry_id)
        commit = Commit()
        commit.op(
            "HSET",
            self.keys.timer_jobs(tag),
            timer_id,
            encode(job.kind, job.payload, attempt, since, job.trace),
        )
        commit.op("ZADD", self.keys.timers(tag), due.timestamp(), timer_id)
        await self._settle_with(job, commit)

    async def dead_letter(self, job: Job, error: str) -> None:
        entry = encode(job.kind, job.payload, job.attempt, job.since, job.trace)
        tag, _ = located(job.entry_id)
        commit = Commit().op(
            "XADD", self.keys.dead_letters(tag), "*", "job", entry, "error", error[:2000]
        )
        await self._settle_with(job, commit)

    async def release(self, job: Job) -> None:
        """Hand an unfinished job back at once (graceful shutdown): re-queue and acknowledge
        in one transaction, so it is neither lost nor left waiting for the visibility timeout.
        """
        entry = encode(job.kind, job.payload, job.attempt, job.since, job.trace)
        stream = self.keys.jobs(located(job.entry_id)[0])
        await self._settle_with(job, Commit().op("XADD", stream, "*", "job", entry))

    async def _settle_with(self, job: Job, commit: Commit) -> None:
        """Apply `commit` and acknowledge `job` together, only while its reader holds it:
        a job another worker took over is that worker's to finish (`TakenOver`)."""
        tag, entry = located(job.entry_id)
        stream = self.keys.jobs(tag)
        if job.consumer:
            commit.held(stream, GROUP, entry, job.consumer)
        commit.op("XACK", stream, GROUP, entry)
        commit.op("XDEL", stream, entry)
        names, spec = commit.script(self.keys)
        ok, _, _ = await self._commit(keys=names, args=[spec])
        if int(ok) != 1:
            raise TakenOver(job.entry_id)
        commit.applied = True

    async def pending(self) -> int:
        """Jobs read by some worker and not yet acknowledged."""
        total = 0
        for tag in await self.tags():
            info: Any = await self.redis.xpending(self.keys.jobs(tag), GROUP)
            total += int(info["pending"]) if info else 0
        return total

    async def prune_consumers(self, idle_ms: int = 3_600_000) -> int:
        """Forget consumers that hold nothing and were idle for long (restarted workers)."""
        pruned = 0
        for tag in await self.tags():
            stream = self.keys.jobs(tag)
            for consumer in await self.redis.xinfo_consumers(stream, GROUP):
                if int(consumer["pending"]) == 0 and int(consumer["idle"]) > idle_ms:
                    await self.redis.xgroup_delconsumer(stream, GROUP, consumer["name"])
                    pruned += 1
        return pruned

    async def backlog(self) -> int:
        """Jobs waiting or in flight."""
        return await self._lengths(self.keys.jobs)

    async def dead(self) -> int:
        return await self._lengths(self.keys.dead_letters)

    async def _lengths(self, stream_of: Callable[[str], str]) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for tag in await self.tags():
            pipe.xlen(stream_of(tag))
        return sum(int(length) for length in await pipe.execute())


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
