"""Channel outages in Redis: first come first served while a channel fails, one page per
outage, and a place given up by a delivery that never comes back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.errors import Unavailable
from orchestrator.notify.notices import IncidentData, Notice
from orchestrator.notify.outages import PAGE_AFTER_S, STALE_S, ChannelOutages
from orchestrator.runtime.clock import ManualClock
from orchestrator.runtime.messages import Notify, Page
from orchestrator.runtime.queue import JobQueue
from orchestrator.store.redis_store import RedisStore
from tests.conftest import START

CHANNEL = "slack:T1:C1"
DOWN = Unavailable(CHANNEL, "HTTP 500")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def outages(store: RedisStore, clock: ManualClock) -> ChannelOutages:
    return ChannelOutages(store, clock)


async def pages(queue: JobQueue) -> list[str]:
    jobs = await queue.read("test", count=100)
    return [str(j.payload["action"]) for j in jobs if j.kind == Page.KIND]


async def test_deliveries_take_turns_in_the_order_they_arrived(outages: ChannelOutages) -> None:
    assert await outages.take_turn(CHANNEL, "a") is False  # no outage: straight through
    await outages.failed(CHANNEL, "a", DOWN)
    for later in ("b", "c"):
        with pytest.raises(Unavailable, match="waiting behind"):
            await outages.take_turn(CHANNEL, later)
    assert await outages.take_turn(CHANNEL, "a") is True  # the head may try
    await outages.answered(CHANNEL)
    await outages.leave(CHANNEL, "a")
    with pytest.raises(Unavailable) as draining:
        await outages.take_turn(CHANNEL, "c")  # c still waits for b
    assert draining.value.seconds == 2.0  # the channel answers: a short wait per place
    assert await outages.take_turn(CHANNEL, "b") is True


async def test_an_outage_is_paged_once_and_resolved(
    outages: ChannelOutages, clock: ManualClock, queue: JobQueue
) -> None:
    await outages.failed(CHANNEL, "a", DOWN)
    assert await pages(queue) == []  # a blip pages no one
    for token in ("a", "b", "a", "c"):
        clock.advance(timedelta(seconds=PAGE_AFTER_S / 2))
        waited = await outages.failed(CHANNEL, token, DOWN)
        assert waited.seconds is not None and 1.0 <= waited.seconds <= 60.0
    assert await pages(queue) == ["trigger"]
    await outages.answered(CHANNEL)
    assert await pages(queue) == ["resolve"]


async def test_a_delivery_that_never_comes_back_loses_its_place(
    outages: ChannelOutages, clock: ManualClock
) -> None:
    await outages.failed(CHANNEL, "gone", DOWN)  # its job is set aside: it never returns
    with pytest.raises(Unavailable):
        await outages.take_turn(CHANNEL, "next")
    clock.advance(timedelta(seconds=STALE_S + 1))
    assert await outages.take_turn(CHANNEL, "next") is True


async def test_messages_given_up_during_an_outage_are_owned_up_to_in_the_channel(
    outages: ChannelOutages, clock: ManualClock, queue: JobQueue
) -> None:
    await outages.failed(CHANNEL, "gone", DOWN)  # given up on: its job never comes back
    clock.advance(timedelta(seconds=STALE_S + 1))
    assert await outages.take_turn(CHANNEL, "next") is True  # "gone" lost its place
    await outages.answered(CHANNEL)
    said = [j for j in await queue.read("test", count=100) if j.kind == Notify.KIND]
    assert len(said) == 1
    notice = Notice.model_validate(said[0].payload)
    assert notice.conversation.channel == "C1" and notice.conversation.platform == "slack"
    assert notice.text.startswith("1 message(s)") and notice.carried(IncidentData).paged is True
