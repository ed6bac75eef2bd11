"""Earned autonomy in Teams, as people use it: the offer arrives as a card after an
approver's click, a colleague who is not an approver cannot accept it, an approver's
Action.Execute click accepts it, `policies` lists it, the next send runs unasked, and a
click on Revoke ends it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity
from redis.asyncio import Redis

from bot.demo.simulation import Business
from bot.teams.bot import BatonTeamsBot
from bot.teams.references import ReferenceStore
from handlers.notifier import ChatNotifier
from orchestrator.models import StepStatus
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import build_harness
from tests.doubles.bot_connector import texts_of
from tests.learning.test_autonomy import STATEMENTS, days, earning
from tests.teams.activities import TENANT, execute, message
from tests.teams.conftest import TeamsTurns
from tests.teams.test_conversation import Connector, WithConnector


@pytest.fixture
async def team(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[tuple[TeamsTurns, Connector]]:
    harness = build_harness(redis, keys, earning(workspace), business)
    await harness.runtime.start()
    cast(dict[str, Any], cast(ChatNotifier, harness.runtime.notifier).gateways)["teams"] = (
        harness.gateway
    )
    bot = BatonTeamsBot(
        harness.conversation, ReferenceStore(harness.store.redis, harness.store.keys.prefix)
    )
    adapter = TestAdapter(bot.on_turn)
    connector = Connector()
    adapter.use(WithConnector(connector))  # private answers go to a one-to-one chat
    yield TeamsTurns(adapter, bot, harness), connector
    await harness.connectors.close()


def cards(sent: list[Activity]) -> list[dict[str, Any]]:
    return [
        cast(dict[str, Any], a.attachments[0].content)
        for a in sent
        if a.type == "message" and a.attachments
    ]


def text_of(card: dict[str, Any]) -> str:
    return " ".join(texts_of(card))


def verbs(card: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["verb"], a["data"]["value"]) for a in card.get("actions", [])]


async def approve_next(teams: TeamsTurns, statement: str) -> tuple[str, list[Activity]]:
    gateway = teams.harness.gateway
    asked = set(gateway.buttons("approve"))
    await teams.turn(message("olivia", statement, mention=True))
    await teams.invoke(execute("olivia", "confirm", gateway.buttons("confirm")[-1]))
    (approval,) = [a for a in gateway.buttons("approve") if a not in asked]
    return approval, await teams.turn(execute("alice", "approve", approval))


async def test_earned_autonomy_through_teams(team: tuple[TeamsTurns, Connector]) -> None:
    teams, connector = team
    for statement in STATEMENTS[:2]:
        _, sent = await approve_next(teams, statement)
        assert cards(sent) == []  # no offer yet
    await days(teams.harness, 4)
    approval, sent = await approve_next(teams, STATEMENTS[2])
    (offer,) = cards(sent)
    assert "Approve this without asking next time? send_winback" in text_of(offer)
    assert "Approved 3 times by people, never rejected." in text_of(offer)
    assert verbs(offer) == [("autonomy", approval)]

    refused = await teams.invoke(execute("carol", "autonomy", approval))
    assert "Only the owner and the approvers" in str(refused["value"])
    accepted = await teams.turn(execute("bob", "autonomy", approval))
    (added,) = cards(accepted)
    assert text_of(added).startswith("Rule added by @bob: auto-approve send_winback up to ")
    assert verbs(added) == [("revoke", approval)]
    await teams.turn(message("olivia", "policies", mention=True))
    (listed,) = [cast(dict[str, Any], a.attachments[0].content) for _, a in connector.sent]
    assert " · earned (accepted by @bob" in text_of(listed)

    gateway = teams.harness.gateway
    asked = set(gateway.buttons("approve"))
    await teams.turn(message("olivia", STATEMENTS[3], mention=True))
    await teams.invoke(execute("olivia", "confirm", gateway.buttons("confirm")[-1]))
    assert set(gateway.buttons("approve")) == asked  # approved by the rule, unasked
    steps = await teams.harness.store.steps("o4")
    (send,) = [s for s in steps if s.action == "send_winback"]
    assert send.status is StepStatus.SUCCEEDED and send.decision.startswith("auto (auto-approve")

    revoked = cards(await teams.turn(execute("alice", "revoke", approval)))
    assert text_of(revoked[0]).startswith("Rule revoked by @alice")
    await teams.turn(message("olivia", STATEMENTS[4], mention=True))
    await teams.invoke(execute("olivia", "confirm", gateway.buttons("confirm")[-1]))
    assert len(set(gateway.buttons("approve")) - asked) == 1
    chain = await teams.harness.store.audit_chain(TENANT)
    assert [e.action for e in chain if e.action.startswith("policy.rule")] == [
        "policy.rule_added",
        "policy.rule_removed",
    ]
