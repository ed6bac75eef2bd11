"""Quorum, delegation and "my approvals" through Teams activities: each click answered
with the card as it stands (who approved, who is awaited), the list as a private card."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from botbuilder.core.adapters import TestAdapter
from redis.asyncio import Redis

from bot.demo.simulation import Business
from bot.teams.bot import BatonTeamsBot
from bot.teams.references import ReferenceStore
from handlers.notifier import ChatNotifier
from orchestrator.models import ApprovalStatus
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.approvals.test_quorum import with_quorum
from tests.conftest import build_harness
from tests.teams.activities import execute, message
from tests.teams.conftest import TeamsTurns
from tests.teams.test_bot import card_text, state_outcome


@pytest.fixture
async def quorum_teams(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[TeamsTurns]:
    two_of_three = with_quorum(workspace, ("alice", "bob", "carol"), approvals=2)
    harness = build_harness(redis, keys, two_of_three, business)
    await harness.runtime.start()
    notifier = cast(ChatNotifier, harness.runtime.notifier)
    cast(dict[str, Any], notifier.gateways)["teams"] = harness.gateway
    references = ReferenceStore(harness.store.redis, harness.store.keys.prefix)
    bot = BatonTeamsBot(harness.conversation, references)
    yield TeamsTurns(TestAdapter(bot.on_turn), bot, harness)
    await harness.connectors.close()


def personal(user: str, text: str) -> dict[str, Any]:
    """A message in the person's 1:1 chat with Baton, where private answers are given."""
    activity = message(user, text)
    activity["conversation"].update(
        {"id": f"a:personal-{user}", "conversationType": "personal", "isGroup": False}
    )
    return activity


async def test_a_quorum_decided_in_teams_with_a_delegate(quorum_teams: TeamsTurns) -> None:
    teams = quorum_teams
    await state_outcome(teams)
    approval_id = teams.harness.gateway.buttons("approve")[-1]

    listed = await teams.turn(personal("alice", "what waits for me?"))
    shown = str([a.attachments[0].content for a in listed if a.attachments])
    assert "Waiting for your decision (1)" in shown and approval_id in shown

    counted = card_text(await teams.invoke(execute("alice", "approve", approval_id)))
    assert "1 of 2 approvals (by @alice); awaiting @bob, @carol" in counted
    again = await teams.invoke(execute("alice", "approve", approval_id))
    assert "You have already approved this" in again["value"]

    away = await teams.turn(personal("carol", "away until 2099-01-10, delegate @bob"))
    assert "@bob decides your approvals" in str(away[0].attachments[0].content)
    await teams.invoke(execute("bob", "approve", approval_id))
    approval = await teams.harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.APPROVED
    assert [v.counts_for for v in approval.votes] == ["alice", "bob"]  # bob's own counts first


async def test_cards_answered_to_invokes_refresh_by_themselves_for_the_people_concerned(
    quorum_teams: TeamsTurns,
) -> None:
    """A refresh and a click answer with a card whose refresh names the approvers and the
    owner by their Teams ids, as a posted card does, so it keeps refreshing in a large chat;
    people Baton never heard from (carol) have no Teams id to name."""
    teams = quorum_teams
    await teams.turn(personal("mallory", "help"))  # known to Baton, but not concerned
    await state_outcome(teams)  # the owner, olivia, wrote to Baton
    await teams.turn(personal("bob", "help"))
    approval_id = teams.harness.gateway.buttons("approve")[-1]
    concerned = ["29:alice", "29:bob", "29:olivia"]

    refreshed = await teams.invoke(execute("alice", "refresh", approval_id))
    assert sorted(refreshed["value"]["refresh"]["userIds"]) == concerned
    clicked = await teams.invoke(execute("alice", "approve", approval_id))
    assert "1 of 2 approvals (by @alice)" in card_text(clicked)
    assert sorted(clicked["value"]["refresh"]["userIds"]) == concerned
