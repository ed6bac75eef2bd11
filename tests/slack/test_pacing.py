"""Pacing shared through Redis: turns per channel across processes, long waits deferred.

A worker must not sleep through a channel's queue: a job whose turn is far off goes back on
the timers (same attempt) and keeps its turn, so the channel's messages stay in order.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.gateway import SlackGateway
from bot.slack.pacing import ChannelPacer
from handlers.cards import Card
from orchestrator.errors import Deferred
from orchestrator.models import ConversationRef
from orchestrator.notify import deliveries
from orchestrator.notify.deliveries import CallLog
from orchestrator.runtime.queue import Delivery, Job
from orchestrator.store.keys import Keys
from tests.conftest import Harness
from tests.doubles.slack_api import SlackApiDouble
from tests.messages import Numbered
from tests.slack.conftest import BOT_TOKEN
from tests.slack.test_gateway import FakeTime

WHERE = ConversationRef(platform="slack", workspace="T1", channel="C5")


def shared(redis: Redis, keys: Keys, time: FakeTime) -> ChannelPacer:
    """A pacer as one process holds it: its own object, the turns in Redis."""
    return ChannelPacer(
        burst=2, clock=time.clock, sleep=time.sleep, redis=redis, prefix=keys.prefix
    )


def job(n: int) -> Job:
    return Job(entry_id=f"1-{n}", kind="notify", payload={"n": n})


async def take(pacer: ChannelPacer, n: int) -> float | None:
    """Take a turn inside job n; the deferral asked for, or None when it may post now."""
    try:
        await pacer.wait("C5", Delivery(job(n)).next_call())
    except Deferred as later:
        return later.seconds
    return None


async def test_two_processes_share_one_channel_budget(redis: Redis, keys: Keys) -> None:
    time = FakeTime()
    web, worker = shared(redis, keys, time), shared(redis, keys, time)
    assert await take(web, 1) is None and await take(worker, 2) is None  # the burst of 2
    assert await take(web, 3) == pytest.approx(1.0)
    assert await take(worker, 4) == pytest.approx(2.0)
    assert time.slept == []  # a worker never sleeps through the queue


async def test_a_deferred_job_keeps_its_turn_and_the_order(redis: Redis, keys: Keys) -> None:
    time = FakeTime()
    pacer = shared(redis, keys, time)
    await take(pacer, 1)
    await take(pacer, 2)
    assert await take(pacer, 3) == pytest.approx(1.0)
    time.now += 1.0  # job 3 comes back when its turn is due: it posts at once
    assert await take(pacer, 3) is None
    assert await take(pacer, 4) == pytest.approx(1.0)  # a newcomer queues behind it


async def test_outside_a_job_the_wait_is_slept(redis: Redis, keys: Keys) -> None:
    time = FakeTime()
    pacer = shared(redis, keys, time)
    for _ in range(4):
        await pacer.wait("C5")
    assert time.slept == [pytest.approx(1.0), pytest.approx(1.0)]


async def test_retry_after_holds_the_channel_for_everyone(redis: Redis, keys: Keys) -> None:
    time = FakeTime()
    first, second = shared(redis, keys, time), shared(redis, keys, time)
    await first.hold_off("C5", 30)
    assert await take(second, 1) == pytest.approx(30.0)


async def test_deferred_jobs_come_back_unharmed_after_a_long_429(
    harness: Harness, slack_api: SlackApiDouble
) -> None:
    """Slack answers 429 with Retry-After 120 s: the notices wait on the timers, keep their
    attempts, and all arrive in order once the window has passed."""

    def now() -> float:
        return harness.clock.now().timestamp()

    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_api.base_url)
    gateway = SlackGateway(client, pacer=ChannelPacer(clock=now, sleep=FakeTime().sleep))

    async def post(job: Numbered, work: Delivery) -> None:
        async def send() -> None:
            await gateway.send(conversation=WHERE, card=Card(title=f"m{job.n}"))

        await deliveries.delivering(CallLog(harness.store, f"m{job.n}"), send)

    harness.runtime.register(Numbered, post)
    slack_api.fail_next(429, 1, retry_after=120)
    for n in range(8):
        await harness.runtime.ctx.queue.enqueue(Numbered(n=n))
    await harness.runtime.drain()
    assert slack_api.refused == 1 and slack_api.called("chat.postMessage") == []
    for _ in range(20):
        harness.clock.advance(timedelta(seconds=30))
        await harness.runtime.drain()
    titles = [c["text"] for c in slack_api.called("chat.postMessage")]
    assert titles == [f"m{n}" for n in range(8)]
    assert await harness.runtime.ctx.queue.dead() == 0
    assert await harness.runtime.ctx.queue.backlog() == 0
