"""A Slack outage delays messages and never drops them; a notice is said once.

The Web API double answers 500 for minutes, then recovers: every notice and reply to the
channel arrives, in the order it was queued, none twice; nothing is dead-lettered; on-call
is paged once for the outage and the page is resolved when Slack answers again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.slack.replies import enqueue_replies
from handlers import texts
from handlers.cards import Card, Inbound, Reply
from orchestrator.notify.incidents import IncidentKind
from orchestrator.notify.notices import Notice, NoticeKind
from tests.conftest import CHANNEL, Harness
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import small_png
from tests.slack.delivery import WHERE, Wired, run_for, wire


@pytest.fixture
async def wired(harness: Harness, slack_api: SlackApiDouble) -> AsyncIterator[Wired]:
    yield wire(harness, slack_api)


async def test_an_outage_of_minutes_delays_every_message_and_loses_none(
    harness: Harness, wired: Wired, slack_api: SlackApiDouble
) -> None:
    queue = harness.runtime.ctx.queue
    slack_api.down(500)
    expected = []
    for n in range(12):
        if n % 3 == 2:  # a reply to a request, with its chart
            reply = Reply(Card(title=f"reply {n}", image_png=small_png()))
            await enqueue_replies(queue, Inbound(WHERE, "olivia", "status o1"), [reply])
        else:
            await harness.runtime.ctx.say(
                Notice(kind=NoticeKind.CHAT, conversation=WHERE, text=f"notice {n}")
            )
        expected.append(f"reply {n}" if n % 3 == 2 else f"notice {n}")
        await harness.runtime.drain()
        harness.clock.advance(timedelta(seconds=5))
    await run_for(harness, 15 * 60)  # a quarter of an hour down
    assert slack_api.called("chat.postMessage") == []
    assert await queue.dead() == 0
    slack_api.up()
    await run_for(harness, 10 * 60)
    assert slack_api.texts() == expected  # all of them, in order, none twice
    assert len(slack_api.uploads) == 4
    assert await queue.dead() == 0 and await queue.backlog() == 0
    outage = [p for p in wired.pager.pages if p.kind == IncidentKind.CHAT_UNAVAILABLE.value]
    assert [p.action for p in outage] == ["trigger", "resolve"]  # paged once, then resolved
    assert outage[0].details["channel"] == "slack:T1:C1"
    assert {p.dedup_key for p in outage} == {"baton:chat_unavailable:slack:T1:C1"}


async def test_a_blip_pages_no_one(
    harness: Harness, wired: Wired, slack_api: SlackApiDouble
) -> None:
    slack_api.fail_next(500, 2)
    await harness.runtime.ctx.say(Notice(kind=NoticeKind.CHAT, conversation=WHERE, text="hello"))
    await harness.runtime.drain()
    await run_for(harness, 60)
    assert slack_api.texts() == ["hello"]
    assert wired.pager.pages == []


async def test_a_later_message_waits_behind_an_earlier_one(
    harness: Harness, wired: Wired, slack_api: SlackApiDouble
) -> None:
    """The first notice fails alone (Slack recovers at once); the second, queued after it,
    must not overtake it even though its own call would succeed."""
    say = harness.runtime.ctx.say
    slack_api.fail_next(500, 1)
    await say(Notice(kind=NoticeKind.CHAT, conversation=WHERE, text="first"))
    await harness.runtime.drain()
    await say(Notice(kind=NoticeKind.CHAT, conversation=WHERE, text="second"))
    await harness.runtime.drain()
    assert slack_api.texts() == []  # the second waits for the first
    await run_for(harness, 60, step=1)
    assert slack_api.texts() == ["first", "second"]


async def test_pause_is_announced_once_when_its_second_call_is_deferred(
    harness: Harness, slack_api: SlackApiDouble
) -> None:
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    wire(harness, slack_api, burst=1)  # one message at a time: the notice's second call waits
    await harness.conversation.on_message(Inbound(CHANNEL, "olivia", f"pause {outcome_id}"))
    for _ in range(10):
        await harness.runtime.drain()
        harness.clock.advance(timedelta(seconds=1))
    paused = texts.CONTROL_DONE.format(id=outcome_id, status="paused")
    assert slack_api.texts().count(paused) == 1
    assert len(slack_api.called("chat.update")) == 1  # the progress message, refreshed
    assert await harness.runtime.ctx.queue.dead() == 0
