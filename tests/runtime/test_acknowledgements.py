"""How jobs are acknowledged: in the handler's closing commit when it has one, else
gathered and sent with the next read or within `ACK_WITHIN_S`; and a commit writes each
record once."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

from redis.asyncio import Redis

from orchestrator.runtime.clock import SystemClock
from orchestrator.runtime.messages import Message
from orchestrator.runtime.queue import Delivery, JobQueue
from orchestrator.runtime.worker import Worker
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore


class Note(Message):
    KIND: ClassVar[str] = "note"
    n: str


class Nothing(Message):
    KIND: ClassVar[str] = "nothing"


class Work(Message):
    KIND: ClassVar[str] = "work"


async def settle(queue: JobQueue, deadline_s: float = 5.0) -> int:
    """Pending entries once nothing more is acknowledged for a while (or at the deadline)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and await queue.pending():
        await asyncio.sleep(0.01)
    return await queue.pending()


async def test_a_running_worker_acknowledges_handled_jobs_without_a_trip_each(
    queue: JobQueue,
) -> None:
    seen: list[str] = []

    async def note(job: Note, work: Delivery) -> None:
        seen.append(job.n)

    worker = Worker(queue, {Note: note}, clock=SystemClock())
    for n in "abc":
        await queue.enqueue(Note(n=n))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, block_ms=1_000))  # a long blocking read
    while len(seen) < 3:
        await asyncio.sleep(0.005)
    assert await settle(queue) == 0  # sent within ACK_WITHIN_S, not at the next read
    assert await queue.backlog() == 0
    await queue.enqueue(Note(n="d"))
    while len(seen) < 4:
        await asyncio.sleep(0.001)
    stop.set()  # at once: its acknowledgement may still be gathered
    await asyncio.wait_for(running, 10)
    assert seen == ["a", "b", "c", "d"]
    assert await queue.pending() == 0  # sent, at the latest on the way out


async def test_run_once_returns_with_its_jobs_acknowledged(queue: JobQueue) -> None:

    async def nothing(job: Nothing, work: Delivery) -> None:
        return None

    worker = Worker(queue, {Nothing: nothing}, clock=SystemClock())
    for _ in range(12):
        await queue.enqueue(Nothing())
    assert await worker.run_once(count=10) == 10
    assert await queue.pending() == 0
    assert await worker.run_once(count=10) == 2
    assert (await queue.pending(), await queue.backlog()) == (0, 0)


async def test_a_job_failing_after_its_commit_acknowledged_it_is_not_run_again(
    redis: Redis, keys: Keys, store: RedisStore, queue: JobQueue
) -> None:
    runs: list[str] = []

    async def commit_then_fail(job: Work, work: Delivery) -> None:
        runs.append(work.job.entry_id)
        commit = Commit().op("INCRBY", keys.sequence("effects"), 1)
        await store.apply(queue.ack_in(commit, work), fenced_by=work)
        raise RuntimeError("after the work was committed")

    worker = Worker(queue, {Work: commit_then_fail}, clock=SystemClock())
    await queue.enqueue(Work())
    assert await worker.run_once() == 1
    assert len(runs) == 1
    assert (await queue.pending(), await queue.backlog()) == (0, 0)
    assert await redis.zcard(keys.timers()) == 0  # no retry was scheduled
    assert await queue.dead() == 0
    assert await redis.get(keys.sequence("effects")) == b"1"


async def test_a_refused_commit_leaves_the_job_to_the_worker(
    redis: Redis, keys: Keys, store: RedisStore, queue: JobQueue
) -> None:

    async def refused(job: Work, work: Delivery) -> None:
        commit = Commit().expect(keys.step("s404"), "approved")
        await store.apply(queue.ack_in(commit, work), fenced_by=work)

    worker = Worker(queue, {Work: refused}, clock=SystemClock())
    await queue.enqueue(Work())
    assert await worker.run_once() == 1
    assert await queue.pending() == 0
    assert await redis.zcard(keys.timers()) == 1  # failed: retried later, as any job


async def test_a_later_refused_commit_does_not_undo_an_acknowledgement(
    redis: Redis, keys: Keys, store: RedisStore, queue: JobQueue
) -> None:

    async def closes_then_is_refused(job: Work, work: Delivery) -> None:
        closing = queue.ack_in(Commit().op("INCRBY", keys.sequence("effects"), 1), work)
        await store.apply(closing, fenced_by=work)
        later = queue.ack_in(Commit().expect(keys.step("s404"), "running"), work)
        assert later.ops == []  # already acknowledged: nothing more to send
        # refused: a step run in the tick that another finished
        await store.apply(later, fenced_by=work)

    worker = Worker(queue, {Work: closes_then_is_refused}, clock=SystemClock())
    await queue.enqueue(Work())
    assert await worker.run_once() == 1
    assert (await queue.pending(), await queue.backlog()) == (0, 0)
    assert await redis.zcard(keys.timers()) == 0  # the closed tick is not run again


def test_a_record_written_twice_in_one_commit_is_written_once_as_last_written() -> None:
    commit = Commit().write("k:s1", "planned", '{"v":1}')
    commit.write("k:s2", "planned", '{"v":9}')
    commit.write("k:s1", "approved", '{"v":2}', cost=3.5)
    assert commit.writes == [
        {"key": "k:s1", "fields": ["status", "approved", "data", '{"v":2}', "cost", 3.5]},
        {"key": "k:s2", "fields": ["status", "planned", "data", '{"v":9}']},
    ]
    later = Commit().write("k:s2", "approved", '{"v":10}')
    merged = Commit().then(commit).then(later)
    assert [w["fields"][1] for w in merged.writes] == ["approved", "approved"]
    assert merged.written == {"k:s1": "approved", "k:s2": "approved"}
