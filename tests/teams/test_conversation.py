"""A team in Teams: an outcome stated in a personal chat, approvers in theirs, a colleague in
the channel. Activities through the bot, as Teams sends them; several people."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.core.cloud_adapter_base import CloudAdapterBase
from botbuilder.schema import Activity, ConversationParameters
from redis.asyncio import Redis

from bot.demo.simulation import Business
from bot.teams.bot import BatonTeamsBot
from bot.teams.references import ReferenceStore
from handlers import texts
from handlers.notifier import ChatNotifier
from orchestrator.steps.rules import RuleBook
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import build_harness
from tests.doubles.bot_connector import texts_of
from tests.teams.activities import TENANT, execute, message
from tests.teams.conftest import TeamsTurns

NAMES = {"olivia": "Olivia Olsen", "alice": "Alice Ng", "bob": "Bob Berg", "carol": "Carol Chen"}
STATEMENT = "Cut monthly churn by 2% by the end of Q1"


@dataclass
class Connector:
    """The Bot Connector client a turn carries: one-to-one chats it was asked to open."""

    sent: list[tuple[str, Activity]] = field(default_factory=list)

    async def create_conversation(self, parameters: ConversationParameters) -> Any:
        return SimpleNamespace(id=f"a:{parameters.members[0].id}")

    async def send_to_conversation(self, conversation_id: str, activity: Activity) -> Any:
        self.sent.append((conversation_id, activity))
        return SimpleNamespace(id=f"m{len(self.sent)}")


class WithConnector:
    """Middleware putting the connector client in each turn, as CloudAdapter does."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        client = SimpleNamespace(conversations=self.connector)
        context.turn_state[CloudAdapterBase.BOT_CONNECTOR_CLIENT_KEY] = client
        await logic()


@pytest.fixture
async def team(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[tuple[TeamsTurns, Connector]]:
    """The example workspace naming nobody: people read the names Teams sends."""
    people = workspace.people.model_copy(update={"names": {}})
    unnamed = workspace.model_copy(update={"people": people})
    harness = build_harness(redis, keys, unnamed, business)
    await harness.runtime.start()
    notifier = cast(ChatNotifier, harness.runtime.notifier)
    cast(dict[str, Any], notifier.gateways)["teams"] = harness.gateway
    references = ReferenceStore(harness.store.redis, harness.store.keys.prefix)
    bot = BatonTeamsBot(harness.conversation, references)
    adapter = TestAdapter(bot.on_turn)
    connector = Connector()
    adapter.use(WithConnector(connector))
    yield TeamsTurns(adapter, bot, harness), connector
    await harness.connectors.close()


def personal(raw: dict[str, Any], user: str) -> dict[str, Any]:
    """`raw` as said in `user`'s personal chat with Baton, by their Teams name."""
    raw["conversation"] = {"id": f"a:{user}", "tenantId": TENANT, "conversationType": "personal"}
    raw["from"]["name"] = NAMES[user]
    return raw


def card_of(activity: Activity) -> dict[str, Any]:
    return cast(dict[str, Any], activity.attachments[0].content)


def said(content: dict[str, Any]) -> str:
    return " ".join(texts_of(content.get("body", [])))


async def test_a_statement_in_a_personal_chat_reaches_its_approvers_by_name(
    team: tuple[TeamsTurns, Connector],
) -> None:
    teams, _ = team
    gateway = teams.harness.gateway
    for approver in ("alice", "bob"):  # each has talked to Baton before
        await teams.turn(personal(message(approver, "help"), approver))
    await teams.turn(personal(message("olivia", STATEMENT), "olivia"))
    question = gateway.sent[-1].card
    assert "relative" in question.title
    assert [b.action for b in question.buttons] == ["cancel"], "a question can be left"
    await teams.turn(personal(message("olivia", "points"), "olivia"))
    statement = gateway.sent[-1].card
    assert dict(statement.fields)["Approvers"] == "@Alice Ng, @Bob Berg"
    assert dict(statement.fields)["Owner"] == "@Olivia Olsen"

    # Confirm: the clicker's card is the answer, and the message is updated for everyone.
    confirm = personal(execute("olivia", "confirm", gateway.buttons("confirm")[-1]), "olivia")
    confirm["replyToId"] = "statement-card"
    body = await teams.invoke(confirm)
    assert "Confirmed" in str(body["value"])
    updated = [a for a in teams.adapter.updated_activities if a.id == "statement-card"]
    assert len(updated) == 1 and "Confirmed" in said(card_of(updated[0]))
    assert "actions" not in card_of(updated[0])

    # The approval card reaches each approver in a personal message, by name.
    asked = [(user, card) for user, card in gateway.private if card.title.startswith("Approval")]
    assert sorted(user for user, _ in asked) == ["alice", "bob"]
    assert dict(asked[0][1].fields)["Approvers"] == "@Alice Ng, @Bob Berg"
    approval = gateway.buttons("approve")[-1]

    # Bob rejects from his own chat, then makes it a rule: the rule is added, and said so.
    rejected = personal(execute("bob", "reject", approval, reason="Not to new customers"), "bob")
    await teams.invoke(rejected)
    offer = personal(execute("bob", "rule", approval), "bob")
    answer = await teams.invoke(offer)
    assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
    assert "Rule added by @Bob Berg" in said(answer["value"])
    assert texts.TEAMS_ALREADY_HANDLED not in str(answer)
    harness = teams.harness
    learned = await RuleBook(harness.store, harness.clock).listing(TENANT)
    assert [item.accepted_by for item in learned] == ["bob"]


async def test_read_only_answers_in_a_channel_go_to_the_person(
    team: tuple[TeamsTurns, Connector],
) -> None:
    teams, connector = team
    for command in ("help", "list", "policies"):
        sent = await teams.turn(message("carol", command, mention=True))
        assert not [a for a in sent if a.type == "message"], f"{command} was said in the channel"
    assert [conversation for conversation, _ in connector.sent] == ["a:29:carol"] * 3
    titles = [said(card_of(activity)) for _, activity in connector.sent]
    assert "State an outcome" in titles[0] and "No outcomes" in titles[1]
    assert "Policy" in titles[2] or "policy" in titles[2]


APPROVALS = "19:approvals@thread.tacv2"


async def test_an_ended_outcome_withdraws_its_cards_in_the_approvals_channel_too(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> None:
    people = workspace.people.model_copy(update={"approvals_channel": APPROVALS})
    harness = build_harness(redis, keys, workspace.model_copy(update={"people": people}), business)
    await harness.runtime.start()
    try:
        cast(dict[str, Any], cast(ChatNotifier, harness.runtime.notifier).gateways)["teams"] = (
            harness.gateway
        )
        bot = BatonTeamsBot(
            harness.conversation, ReferenceStore(harness.store.redis, harness.store.keys.prefix)
        )
        teams = TeamsTurns(TestAdapter(bot.on_turn), bot, harness)
        statement = "Reduce at-risk customers by 50% by 31 March"
        await teams.turn(message("olivia", statement, mention=True))
        await teams.invoke(execute("olivia", "confirm", harness.gateway.buttons("confirm")[-1]))
        cards = [s for s in harness.gateway.sent if s.card.title.startswith("Approval needed")]
        assert sorted(s.ref.conversation.channel for s in cards)[0] == APPROVALS
        assert len(cards) == 2 and harness.gateway.buttons("approve")

        # Every quiet customer comes back: the next check finds the outcome achieved.
        with sqlite3.connect(business.path) as db:
            db.execute("UPDATE customers SET last_active_day = (SELECT day FROM sim)")
        await teams.turn(message("olivia", "check o1", mention=True))
        assert (await harness.store.outcome("o1")).status.value == "achieved"
        for card in cards:
            assert card.current.footer == "Withdrawn: the outcome was achieved."
            assert not card.current.buttons
        approval = cards[0].card.buttons[0].value
        body = await teams.invoke(execute("alice", "approve", approval))
        assert "This approval was withdrawn: the outcome was achieved." in str(body["value"])
    finally:
        await harness.connectors.close()


async def test_reminders_and_escalations_reach_the_approvers_of_a_personal_chat(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> None:
    policy = workspace.policy.model_copy(
        update={"remind_after_h": 4, "escalate_after_h": 12, "approval_timeout_h": 24}
    )
    harness = build_harness(redis, keys, workspace.model_copy(update={"policy": policy}), business)
    await harness.runtime.start()
    try:
        notifier = cast(ChatNotifier, harness.runtime.notifier)
        cast(dict[str, Any], notifier.gateways)["teams"] = harness.gateway
        bot = BatonTeamsBot(
            harness.conversation, ReferenceStore(harness.store.redis, harness.store.keys.prefix)
        )
        teams = TeamsTurns(TestAdapter(bot.on_turn), bot, harness)
        await teams.turn(personal(message("olivia", STATEMENT), "olivia"))
        await teams.turn(personal(message("olivia", "points"), "olivia"))
        session = harness.gateway.buttons("confirm")[-1]
        await teams.invoke(personal(execute("olivia", "confirm", session), "olivia"))

        def told(start: str) -> list[str]:
            return sorted(u for u, card in harness.gateway.private if card.title.startswith(start))

        assert told("Approval needed") == ["alice", "bob"]
        harness.clock.advance(timedelta(hours=4))
        await harness.runtime.drain()
        assert told("Reminder") == ["alice", "bob"]
        harness.clock.advance(timedelta(hours=8))
        await harness.runtime.drain()
        assert told("Escalated") == ["oscar"]
    finally:
        await harness.connectors.close()
