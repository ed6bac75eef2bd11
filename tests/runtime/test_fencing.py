"""A job's claim is its fencing token: a worker whose job was taken over commits nothing,
acknowledges nothing and reschedules nothing; a worker that renews keeps its job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import ClassVar, cast

import pytest
from redis.asyncio import Redis

from bot.slack.gateway import SlackGateway
from bot.slack.messages import SlackClick
from bot.slack.work import SlackWork
from handlers.cards import Click
from orchestrator.errors import TakenOver, Unavailable
from orchestrator.models import ApprovalStatus
from orchestrator.runtime.clock import ManualClock
from orchestrator.runtime.messages import Message, Tick
from orchestrator.runtime.queue import Delivery, Job, JobQueue
from orchestrator.runtime.worker import Worker
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.conftest import CHANNEL, Harness

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
STATEMENT = "Cut monthly churn by 2 points by end of Q1"


class Reply(Message):
    KIND: ClassVar[str] = "reply"
    text: str


async def _taken_over(queue: JobQueue) -> tuple[Job, Job]:
    """A job read by `slow`, then taken over by `other` (as after the visibility timeout)."""
    await queue.enqueue(Tick(outcome="o1"))
    (first,) = await queue.read("slow")
    (second,) = await queue.reclaim("other", min_idle_ms=0)
    return first, second


async def test_a_taken_over_job_commits_nothing(
    store: RedisStore, queue: JobQueue, keys: Keys, redis: Redis
) -> None:
    first, second = await _taken_over(queue)
    with pytest.raises(TakenOver):
        await store.apply(Commit().op("SET", keys.lease("plan"), "slow"), fenced_by=Delivery(first))
    assert await redis.get(keys.lease("plan")) is None

    await store.apply(Commit().op("SET", keys.lease("plan"), "other"), fenced_by=Delivery(second))
    assert await redis.get(keys.lease("plan")) == b"other"


async def test_a_tick_whose_job_was_taken_over_commits_nothing(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", STATEMENT)
    queue, store = harness.runtime.ctx.queue, harness.store
    measured = len(await store.measurements(outcome_id))
    trail = len(await store.audit_trail(await store.outcome(outcome_id)))
    await queue.enqueue(Tick(outcome=outcome_id))
    (first,) = await queue.read("slow")
    await queue.reclaim("other", min_idle_ms=0)
    tick = Tick.from_payload(first.payload)

    with pytest.raises(TakenOver):
        await harness.runtime.worker.handlers.handler(tick)(tick, Delivery(first))

    assert len(await store.measurements(outcome_id)) == measured
    assert len(await store.audit_trail(await store.outcome(outcome_id))) == trail
    assert await queue.pending() == 1, "the new holder still has it"


async def test_a_click_whose_job_was_taken_over_commits_nothing(harness: Harness) -> None:
    """A Slack click run as a job, handed to the conversation by the job's handler: the
    vote is fenced by the job's claim, so the approval stays pending and nothing answers."""
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    queue, store = harness.runtime.ctx.queue, harness.store
    work = SlackWork(
        harness.conversation, cast(SlackGateway, harness.gateway), store=store, queue=queue
    )
    click = Click(CHANNEL, "alice", "approve", approval_id, delivery_id="slack:T1:taken")
    await queue.enqueue(SlackClick.of(click))
    (first,) = await queue.read("slow")
    await queue.reclaim("other", min_idle_ms=0)
    outcome = await store.outcome((await store.approval(approval_id)).outcome_id)
    trail, queued = len(await store.audit_trail(outcome)), await queue.backlog()

    with pytest.raises(TakenOver):
        await work.click(SlackClick.from_payload(first.payload), Delivery(first))

    approval = await store.approval(approval_id)
    assert approval.status is ApprovalStatus.PENDING and approval.votes == ()
    assert len(await store.audit_trail(outcome)) == trail
    assert await queue.backlog() == queued, "no answer queued"
    assert await queue.pending() == 1, "the new holder still has it"


async def test_a_taken_over_job_is_not_acknowledged_nor_rescheduled_by_its_old_worker(
    queue: JobQueue,
) -> None:
    first, second = await _taken_over(queue)
    await queue.ack_all("slow", [first.entry_id])
    with pytest.raises(TakenOver):
        await queue.retry_later(first, NOW)
    with pytest.raises(TakenOver):
        await queue.dead_letter(first, "boom")
    assert await queue.pending() == 1, "the new holder still has it"
    assert await queue.next_due() is None and await queue.dead() == 0

    await queue.ack_all("other", [second.entry_id])
    assert await queue.pending() == 0


async def test_a_renewed_claim_is_not_taken_over(queue: JobQueue) -> None:
    await queue.enqueue(Tick(outcome="o1"))
    (job,) = await queue.read("slow")
    await asyncio.sleep(0.3)  # the stream measures idle time in real time
    assert await queue.renew("slow", [job.entry_id]) == {job.entry_id}
    assert await queue.reclaim("other", min_idle_ms=200) == []

    (taken,) = await queue.reclaim("other", min_idle_ms=0)
    assert await queue.renew("slow", [job.entry_id]) == set(), "lost: not renewed any more"
    assert taken.deliveries == 2, "renewals do not count as deliveries"


async def test_a_running_worker_renews_what_it_runs(queue: JobQueue) -> None:
    """A job slower than the visibility timeout stays with the worker that runs it."""
    release = asyncio.Event()
    taken: list[list[Job]] = []

    async def slow(job: Tick, work: Delivery) -> None:
        await asyncio.sleep(0.6)  # three visibility timeouts
        taken.append(await queue.reclaim("other", min_idle_ms=200))
        await release.wait()

    worker = Worker(queue, {Tick: slow}, clock=ManualClock(NOW), name="w1", visibility_ms=200)
    await queue.enqueue(Tick(outcome="o1"))
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop, block_ms=50))
    while not taken:
        await asyncio.sleep(0.05)
    release.set()
    stop.set()
    await running
    assert taken == [[]]
    assert worker.processed == 1 and await queue.pending() == 0


async def test_an_outage_is_waited_out_then_given_up_after_hours(queue: JobQueue) -> None:
    clock = ManualClock(NOW)
    tries: list[int] = []

    async def down(job: Reply, work: Delivery) -> None:
        tries.append(work.job.attempt)
        raise Unavailable("slack:C1", "HTTP 500", seconds=2)

    dead: list[str] = []

    async def on_dead(job: Job, detail: str) -> None:
        dead.append(detail)

    worker = Worker(queue, {Reply: down}, clock=clock, name="w1", on_dead_letter=on_dead)
    await queue.enqueue(Reply(text="hi"))
    while not dead:
        assert await worker.run_once() == 1
        clock.advance(timedelta(minutes=40))
        await queue.move_due(clock.now())
    assert len(tries) > worker.max_attempts and set(tries) == {0}, "not the job's failure"
    assert len(dead) == 1 and "hours" in dead[0]
    assert await queue.dead() == 1 and await queue.next_due() is None


async def test_redis_refusing_writes_is_waited_out_by_a_running_worker(queue: JobQueue) -> None:
    from redis.exceptions import ResponseError

    refusals = 3
    handled: list[str] = []

    async def full(job: Tick, work: Delivery) -> None:
        nonlocal refusals
        if refusals:
            refusals -= 1
            raise ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
        handled.append(job.KIND)

    worker = Worker(queue, {Tick: full}, clock=ManualClock(NOW), name="w1")
    await queue.enqueue(Tick(outcome="o1"))
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop, block_ms=50))
    while not handled:
        await asyncio.sleep(0.05)
    stop.set()
    await running
    assert handled == ["tick"] and await queue.pending() == 0 and await queue.dead() == 0
