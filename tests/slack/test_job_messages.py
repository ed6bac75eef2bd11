"""Slack's jobs are typed messages on the wire format of the version before them: an entry
it queued decodes into its message and queues again byte for byte."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from bot.slack.messages import (
    SLACK,
    SlackClick,
    SlackCommand,
    SlackHome,
    SlackReply,
    SlackStatement,
)
from handlers.cards import Card, Click
from orchestrator.models import ConversationRef, MessageRef
from orchestrator.runtime.dispatch import Handlers
from orchestrator.runtime.messages import Message
from orchestrator.runtime.queue import Delivery, JobQueue, encode
from orchestrator.store.keys import Keys

WHERE = {"platform": "slack", "workspace": "T1", "channel": "C1", "thread": None}
COMMAND = {
    "team_id": "T1",
    "channel_id": "C1",
    "user_id": "U1",
    "text": "Cut monthly churn by 2 points by end of Q1",
    "trigger_id": "1700000000.1.abc",
}
CLICK = {
    "conversation": WHERE,
    "user": "U2",
    "action": "approve",
    "value": "a40-T1",
    "reason": "",
    "message": {"conversation": WHERE, "message_id": "1700000000.000200"},
    "delivery_id": "slack:T1:1700000000.000200:U2",
}
HOME_CLICK = {**CLICK, "message": None, "delivery_id": None, "reason": "too generous"}
CARD = {
    "title": "Status of o12-T1",
    "lines": ["On track"],
    "fields": [["Target", "6%"]],
    "progress": 0.5,
    "buttons": [],
    "footer": "",
    "image_png": None,
    "image_alt": "",
    "literal": [],
    "mentions": [],
}
REPLY = {
    "id": "answer:slack:T1:1700000000.1.abc",
    "ops": [
        {"conversation": WHERE, "card": CARD, "op": "private", "user": "U1"},
        {"conversation": WHERE, "card": CARD, "op": "post"},
        {"conversation": WHERE, "op": "changed"},
    ],
}

TODAY: list[tuple[type[Message], str, dict[str, Any]]] = [
    (SlackStatement, "slack_statement", COMMAND),
    (SlackCommand, "slack_command", {**COMMAND, "text": "status o12-T1"}),
    (SlackClick, "slack_click", CLICK),
    (SlackClick, "slack_click", HOME_CLICK),
    (SlackReply, "slack_reply", REPLY),
    (SlackHome, "slack_home", {"team": "T1"}),
]
"""Entries of every Slack kind, as the version before typed messages queued them."""


def slack_handlers() -> Handlers:
    async def nothing(message: Message, work: Delivery) -> None:
        return None

    return Handlers.of(dict.fromkeys(SLACK, nothing))


def test_every_slack_kind_has_an_entry_of_today() -> None:
    assert {kind for _, kind, _ in TODAY} == {message.KIND for message in SLACK}


@pytest.mark.parametrize(("message", "kind", "payload"), TODAY, ids=[t[1] for t in TODAY])
async def test_an_entry_of_today_decodes_and_queues_again_as_it_was(
    redis: Redis, keys: Keys, message: type[Message], kind: str, payload: dict[str, Any]
) -> None:
    queue = JobQueue(redis, keys)
    await queue.ensure_group()
    entry = orjson.dumps({"attempt": 0, "kind": kind, "payload": payload}).decode()
    await redis.xadd(keys.jobs(), {"job": entry})
    (job,) = await queue.read("w1")

    decoded = slack_handlers().decode(job.kind, job.payload)

    assert type(decoded) is message
    assert decoded.payload() == payload
    assert encode(decoded.KIND, decoded.payload()) == encode(kind, payload)


def test_a_click_is_queued_as_today_and_read_back_whole() -> None:
    where = ConversationRef.model_validate(WHERE)
    click = Click(
        where,
        "U2",
        "approve",
        "a40-T1",
        message=MessageRef(conversation=where, message_id="1700000000.000200"),
        delivery_id="slack:T1:1700000000.000200:U2",
    )
    assert SlackClick.of(click).payload() == CLICK
    assert SlackClick.from_payload(CLICK).click() == click


def test_a_reply_card_round_trips() -> None:
    reply = SlackReply.from_payload(REPLY)
    assert reply.ops[1]["card"]["title"] == Card(title="Status of o12-T1").title
    assert reply.payload() == REPLY
