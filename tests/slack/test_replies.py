"""Replies to Slack requests go through the job queue: an outage delays them, loses none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.gateway import SlackGateway
from bot.slack.messages import SlackReply
from bot.slack.pacing import ChannelPacer
from bot.slack.replies import ReplyDelivery, enqueue_replies
from handlers.cards import Button, Card, Click, Inbound, Reply
from orchestrator.models import ConversationRef, MessageRef
from tests.conftest import Harness
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import BOT_TOKEN, small_png
from tests.slack.test_gateway import FakeTime

WHERE = ConversationRef(platform="slack", workspace="T1", channel="C7", thread="1.000001")


@pytest.fixture
async def slack(harness: Harness, slack_api: SlackApiDouble) -> AsyncIterator[SlackGateway]:
    time = FakeTime()
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_api.base_url)

    def now() -> float:  # turns on the same clock the worker schedules deferred jobs by
        return harness.clock.now().timestamp()

    pacer = ChannelPacer(clock=now, sleep=time.sleep)
    tier4 = ChannelPacer(clock=now, sleep=time.sleep)
    gateway = SlackGateway(client, pacer=pacer, tier4=tier4, sleep=time.sleep)
    harness.runtime.register(SlackReply, ReplyDelivery(gateway, harness.store))
    yield gateway


async def deliver_through_outage(harness: Harness, rounds: int = 12) -> None:
    """Drain, then let the retry backoff pass on the injected clock, until nothing is left."""
    for _ in range(rounds):
        await harness.runtime.drain()
        harness.clock.advance(timedelta(seconds=60))
    await harness.runtime.drain()


async def test_replies_survive_an_outage_in_order(
    harness: Harness, slack: SlackGateway, slack_api: SlackApiDouble
) -> None:
    png = small_png()
    asked = Inbound(WHERE, "olivia", "status o1")
    replies = [
        Reply(Card(title="Only you: not found"), private=True),
        Reply(Card(title="Status of o1", image_png=png)),
    ]
    await enqueue_replies(harness.runtime.ctx.queue, asked, replies)
    slack_api.fail_next(500, 4)
    await deliver_through_outage(harness)
    assert slack_api.refused == 4
    methods = [c.method for c in slack_api.calls]
    assert methods.count("chat.postEphemeral") == 1 and methods.count("chat.postMessage") == 1
    assert methods.index("chat.postEphemeral") < methods.index("chat.postMessage")
    assert slack_api.called("chat.postEphemeral")[0]["user"] == "olivia"
    assert list(slack_api.uploads.values()) == [png]
    assert await harness.runtime.ctx.queue.dead() == 0


async def test_a_retry_resumes_after_what_was_already_shown(
    harness: Harness, slack: SlackGateway, slack_api: SlackApiDouble
) -> None:
    clicked = MessageRef(conversation=WHERE, message_id="1700000000.000042")
    click = Click(WHERE, "alice", "confirm", "s1", message=clicked)
    replies = [
        Reply(Card(title="Confirmed", buttons=(Button("Undo", "cancel", "s1"),)), replace=True),
        Reply(Card(title="Now in the channel")),
    ]
    await enqueue_replies(harness.runtime.ctx.queue, click, replies)
    # The update goes through; the post after it fails, three times.
    slack_api.fail_next(500, 3, method="chat.postMessage")
    await deliver_through_outage(harness)
    # A post answered 500 may still have been taken, so it is looked for before each retry.
    posts = [c.method for c in slack_api.calls if not c.method.startswith("conversations.")]
    assert posts == ["chat.update", "chat.postMessage"]
    assert slack_api.called("chat.update")[0]["ts"] == "1700000000.000042"
    assert slack_api.refused == 3


async def test_429_from_slack_is_waited_out(
    harness: Harness, slack: SlackGateway, slack_api: SlackApiDouble
) -> None:
    await enqueue_replies(
        harness.runtime.ctx.queue, Inbound(WHERE, "bob", "list"), [Reply(Card(title="o1"))]
    )
    slack_api.fail_next(429, 5, retry_after=2)
    await deliver_through_outage(harness)
    assert slack_api.refused == 5 and len(slack_api.called("chat.postMessage")) == 1


async def test_a_charts_alt_text_reaches_slack_with_the_upload(
    harness: Harness, slack: SlackGateway, slack_api: SlackApiDouble
) -> None:
    png = small_png()
    alt = "Chart of Monthly churn rate: 7.1% now, target 6%, on track"
    status = Card(title="Status of o1", image_png=png, image_alt=alt)
    await enqueue_replies(
        harness.runtime.ctx.queue, Inbound(WHERE, "olivia", "status o1"), [Reply(status)]
    )
    await deliver_through_outage(harness)
    assert list(slack_api.uploads.values()) == [png]
    asked = slack_api.called("files.getUploadURLExternal")  # where Slack takes alt text
    assert [params["alt_txt"] for params in asked] == [alt]
