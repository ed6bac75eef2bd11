"""A reply whose run ended after Slack took its post, before Baton kept the ts, run again.

The run is cancelled while the Web API double holds its answer back (the post is already in
the channel): as a killed worker, it records nothing more. Run again, the reply is looked
for by its metadata and adopted, in a thread too; when the lookup cannot be made, the reply
waits (Slack down) or is posted again (Slack refuses the lookup for good).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.gateway import SlackGateway
from bot.slack.messages import SlackReply
from bot.slack.pacing import ChannelPacer
from bot.slack.replies import ReplyDelivery, reply_ops
from handlers.cards import Card, Inbound, Reply
from orchestrator.errors import Deferred, Unavailable
from orchestrator.models import ConversationRef
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.doubles.slack_api import SlackApiDouble
from tests.messages import handling
from tests.slack.conftest import BOT_TOKEN

THREAD = ConversationRef(platform="slack", workspace="T1", channel="C7", thread="1.000001")
CHANNEL = ConversationRef(platform="slack", workspace="T1", channel="C8")


@pytest.fixture
async def delivery(
    redis: Redis, keys: Keys, slack_api: SlackApiDouble
) -> AsyncIterator[ReplyDelivery]:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_api.base_url)
    yield ReplyDelivery(SlackGateway(client), RedisStore(redis, keys))
    slack_api.release()


def reply_job(where: ConversationRef, text: str) -> SlackReply:
    ops = reply_ops(Inbound(where, "olivia", "status"), [Reply(Card(title=text))])
    return SlackReply(id=text, ops=tuple(ops))


async def cut_off_after_slack_took_it(
    delivery: ReplyDelivery, job: SlackReply, slack_api: SlackApiDouble, channel: str
) -> None:
    """Run `job` until Slack has its post, and end the run there, the answer unheard."""
    slack_api.hold("chat.postMessage")
    run = asyncio.create_task(delivery(job, handling(job)))
    for _ in range(400):
        if slack_api.messages(channel):
            break
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    slack_api.release()


async def test_a_thread_reply_is_found_in_the_thread_and_not_posted_again(
    delivery: ReplyDelivery, slack_api: SlackApiDouble
) -> None:
    job = reply_job(THREAD, "Status of o1")
    await cut_off_after_slack_took_it(delivery, job, slack_api, "C7")
    await delivery(job, handling(job))
    assert [m["text"] for m in slack_api.messages("C7")] == ["Status of o1"]
    looked = slack_api.called("conversations.replies")
    assert looked and looked[0]["ts"] == THREAD.thread
    assert not slack_api.called("conversations.history")
    await delivery(job, handling(job))  # its answer is kept now: nothing is looked for or posted
    assert len(slack_api.called("conversations.replies")) == 1
    assert len(slack_api.messages("C7")) == 1


async def test_a_post_that_never_reached_slack_is_posted_after_the_lookup(
    delivery: ReplyDelivery, slack_api: SlackApiDouble
) -> None:
    job = reply_job(CHANNEL, "Weekly digest")
    slack_api.fail_next(500, 1, method="chat.postMessage")  # a 500 may hide an accepted post
    with pytest.raises(Unavailable):
        await delivery(job, handling(job))
    await delivery(job, handling(job))
    assert slack_api.called("conversations.history")  # looked for first, not found
    assert [m["text"] for m in slack_api.messages("C8")] == ["Weekly digest"]


async def test_while_the_lookup_fails_the_post_waits_and_is_then_found(
    delivery: ReplyDelivery, slack_api: SlackApiDouble
) -> None:
    job = reply_job(CHANNEL, "Approval needed")
    await cut_off_after_slack_took_it(delivery, job, slack_api, "C8")
    slack_api.fail_next(503, 1, method="conversations.history")
    with pytest.raises(Unavailable):
        await delivery(job, handling(job))
    assert len(slack_api.messages("C8")) == 1  # not posted on a lookup that failed
    await delivery(job, handling(job))
    assert [m["text"] for m in slack_api.messages("C8")] == ["Approval needed"]


async def test_a_lookup_refused_for_good_posts_again_rather_than_lose_the_message(
    delivery: ReplyDelivery, slack_api: SlackApiDouble
) -> None:
    job = reply_job(CHANNEL, "Step finished")
    await cut_off_after_slack_took_it(delivery, job, slack_api, "C8")
    slack_api.refuse_next("missing_scope", 1, method="conversations.history")
    await delivery(job, handling(job))
    assert [m["text"] for m in slack_api.messages("C8")] == ["Step finished"] * 2


async def test_posts_carry_the_delivery_call_that_made_them(
    delivery: ReplyDelivery, slack_api: SlackApiDouble
) -> None:
    job = reply_job(CHANNEL, "o1 is on track")
    await delivery(job, handling(job))
    [posted] = slack_api.messages("C8")
    assert posted["metadata"] == {
        "event_type": "baton_delivery",
        "event_payload": {"id": "slack_reply:o1 is on track:1"},
    }
    assert not slack_api.called("conversations.history")  # a first run looks for nothing


async def test_a_post_deferred_to_its_turn_is_not_looked_for(
    redis: Redis, keys: Keys, slack_api: SlackApiDouble
) -> None:
    now = [1_000.0]
    pacer = ChannelPacer(per_second=0.01, burst=1, clock=lambda: now[0], sleep=_no_sleep)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack_api.base_url)
    delivery = ReplyDelivery(SlackGateway(client, pacer=pacer), RedisStore(redis, keys))
    replies = [Reply(Card(title="First")), Reply(Card(title="Second"))]
    ops = reply_ops(Inbound(CHANNEL, "olivia", "status"), replies)
    job = SlackReply(id="paced", ops=tuple(ops))
    with pytest.raises(Deferred):  # the second post's turn is 100 s away
        await delivery(job, handling(job))
    now[0] += 101
    await delivery(job, handling(job))
    assert [m["text"] for m in slack_api.messages("C8")] == ["First", "Second"]
    assert not slack_api.called("conversations.history")


async def _no_sleep(seconds: float) -> None:
    return None


async def test_installed_in_many_workspaces_the_lookup_uses_the_teams_token(
    redis: Redis, keys: Keys, slack_api: SlackApiDouble
) -> None:
    async def token_of(team: str) -> str | None:
        return f"xoxb-{team}"

    client = AsyncWebClient(base_url=slack_api.base_url)  # no token of its own
    delivery = ReplyDelivery(SlackGateway(client, token_of=token_of), RedisStore(redis, keys))
    job = reply_job(CHANNEL, "Quarterly review")
    await cut_off_after_slack_took_it(delivery, job, slack_api, "C8")
    await delivery(job, handling(job))
    assert len(slack_api.messages("C8")) == 1
    looked = [c for c in slack_api.calls if c.method == "conversations.history"]
    assert [c.token for c in looked] == ["xoxb-T1"]
