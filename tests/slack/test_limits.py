"""Every message fits Slack's limits; a refusal for good fails fast, and never silently.

The Web API double refuses what Slack refuses (more than 50 blocks, a section over 3,000
characters, blocks over about 13,000 characters in all): a `list` of 60 outcomes must still
arrive, whole and in order; a message Slack will not show goes again as plain text; a
channel Baton cannot post in sets the job aside at once, with its incident, not after five
retries.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.slack.replies import enqueue_replies
from handlers import texts
from handlers.cards import Card, Inbound, Reply
from orchestrator.notify.incidents import IncidentKind
from orchestrator.notify.notices import Notice, NoticeKind
from tests.conftest import Harness
from tests.doubles.slack_api import SlackApiDouble
from tests.fakes import an_outcome
from tests.slack.delivery import WHERE, Wired, run_for, wire


@pytest.fixture
async def wired(harness: Harness, slack_api: SlackApiDouble) -> AsyncIterator[Wired]:
    yield wire(harness, slack_api)


OBJECTIVE = (
    "Reduce monthly churn of the dental clinic's recall patients from 8% to 5% by the end of "
    "the quarter, measured on the practice management system's weekly export, for {n}"
)


async def seed_outcomes(harness: Harness, count: int, padding: int = 0) -> list[str]:
    redis, keys = harness.store.redis, harness.store.keys
    ids = []
    for n in range(1, count + 1):
        outcome = an_outcome(
            id=f"o{n}",
            objective=OBJECTIVE.format(n=n) + " (details)" * padding,
            conversation=WHERE,
            started_at=an_outcome().started_at + timedelta(minutes=n),
        )
        await redis.hset(keys.outcome(outcome.id), "data", outcome.model_dump_json())
        await redis.sadd(keys.outcomes_of("T1"), outcome.id)
        ids.append(outcome.id)
    return ids


def shown(api: SlackApiDouble, method: str = "chat.postMessage") -> str:
    """Everything the channel shows (or shows one person), message after message."""
    return "\n".join(json.dumps(p.get("blocks") or p.get("text")) for p in api.called(method))


@pytest.mark.parametrize("padding", [0, 290], ids=["usual objectives", "very long objectives"])
async def test_a_list_of_sixty_outcomes_arrives_whole_and_in_order(
    harness: Harness, wired: Wired, slack_api: SlackApiDouble, padding: int
) -> None:
    """Usual objectives made a list over Slack's 13,000 characters (`msg_blocks_too_long`);
    very long ones (a section each) made it over 50 blocks (`invalid_blocks`)."""
    ids = await seed_outcomes(harness, 60, padding)
    asked = Inbound(WHERE, "olivia", "list")
    replies = await harness.conversation.on_message(asked)
    await enqueue_replies(harness.runtime.ctx.queue, asked, replies)
    await harness.runtime.drain()
    await run_for(harness, 180, step=5)  # the parts take their paced turns
    assert slack_api.refused == 0 and await harness.runtime.ctx.queue.dead() == 0
    posted = slack_api.called("chat.postEphemeral")  # a list goes to the person who asked
    assert len(posted) > 1 and all(len(p["blocks"]) <= 50 for p in posted)
    text = shown(slack_api, "chat.postEphemeral")
    places = [text.index(f"{outcome_id} [") for outcome_id in ids]
    assert places == sorted(places)  # every outcome, in order, each once
    assert all(text.count(f"{outcome_id} [") == 1 for outcome_id in ids)


async def test_a_message_slack_will_not_show_goes_again_as_plain_text(
    harness: Harness, wired: Wired, slack_api: SlackApiDouble
) -> None:
    slack_api.refuse_next("invalid_blocks", 1)
    notice = Notice(kind=NoticeKind.CHAT, conversation=WHERE, text="Budget reached")
    await harness.runtime.ctx.say(notice)
    await harness.runtime.drain()
    posted = slack_api.called("chat.postMessage")
    assert len(posted) == 1 and "blocks" not in posted[0]
    assert posted[0]["text"].startswith(texts.FALLBACK_MESSAGE.split("(")[0])
    assert "Budget reached" in posted[0]["text"] and "invalid_blocks" in posted[0]["text"]
    assert slack_api.refused == 1 and await harness.runtime.ctx.queue.dead() == 0


async def test_a_channel_baton_cannot_post_in_is_set_aside_at_once_and_paged(
    harness: Harness, wired: Wired, slack_api: SlackApiDouble
) -> None:
    slack_api.refuse_next("channel_not_found", 10)
    notice = Notice(kind=NoticeKind.CHAT, conversation=WHERE, text="hello")
    await harness.runtime.ctx.say(notice)
    await harness.runtime.drain()
    await run_for(harness, 120)
    assert slack_api.refused == 1  # one try: no retries as if it were transient
    assert await harness.runtime.ctx.queue.dead() == 1
    kinds = [p.kind for p in wired.pager.pages]
    assert kinds == [IncidentKind.JOB_DEAD_LETTERED.value]
    assert "channel_not_found" in wired.pager.pages[0].what


async def test_one_reply_refused_does_not_keep_the_others_from_being_shown(
    harness: Harness, wired: Wired, slack_api: SlackApiDouble
) -> None:
    slack_api.refuse_next("user_not_in_channel", 1, method="chat.postEphemeral")
    asked = Inbound(WHERE, "guest", "status o1")
    replies = [Reply(Card(title="Only you"), private=True), Reply(Card(title="For everyone"))]
    await enqueue_replies(harness.runtime.ctx.queue, asked, replies)
    await harness.runtime.drain()
    await run_for(harness, 60)
    assert slack_api.texts() == ["For everyone"]
    assert slack_api.refused == 1 and await harness.runtime.ctx.queue.dead() == 1
    assert "user_not_in_channel" in wired.pager.pages[0].what


async def test_a_message_that_cannot_be_edited_any_more_is_posted_again(
    harness: Harness, slack_api: SlackApiDouble
) -> None:
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    wire(harness, slack_api)
    slack_api.refuse_next("message_not_found", 1, method="chat.update")
    await harness.say("olivia", f"pause {outcome_id}")
    paused = texts.CONTROL_DONE.format(id=outcome_id, status="paused")
    posted = slack_api.texts()
    assert posted[0] == paused and len(posted) == 2  # the progress message, posted anew
    ref = await harness.store.message_ref(harness.store.keys.outcome(outcome_id), "progress_msg")
    answers = [c.answer for c in slack_api.calls if c.method == "chat.postMessage"]
    assert ref is not None and ref.message_id == answers[1]["ts"]
    assert await harness.runtime.ctx.queue.dead() == 0
