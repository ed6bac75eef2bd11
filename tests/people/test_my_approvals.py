"""`approvals` and "what waits for me?": each person's own list, private, with buttons,
including what they decide for an approver away."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from handlers.cards import Reply
from orchestrator.models import ApprovalStatus
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness
from tests.people.test_delegation import _workspace

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


@pytest.fixture
async def two_of_two(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    harness = build_harness(redis, keys, _workspace(workspace, rule={"approvals": 2}), business)
    await harness.runtime.start()
    yield harness
    await harness.connectors.close()


def _only(replies: list[Reply]) -> Reply:
    assert len(replies) == 1
    return replies[0]


async def test_each_person_sees_what_waits_for_them_and_decides_from_there(
    two_of_two: Harness,
) -> None:
    harness = two_of_two
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]

    mine = _only(await harness.say("alice", "approvals"))
    assert mine.private
    assert mine.card.title == "Waiting for your decision (1)"
    (line,) = mine.card.lines
    assert line.startswith(f"• {approval_id}: ") and "0 of 2 approvals" in line
    assert [(b.action, b.value) for b in mine.card.buttons] == [
        ("approve", approval_id),
        ("reject", approval_id),
    ]
    same = _only(await harness.say("alice", "what waits for me?"))
    assert same.card == mine.card and same.private

    await harness.click("alice", "approve", mine.card.buttons[0].value)
    assert _only(await harness.say("alice", "approvals")).card.title == (
        "Nothing waits for your decision."
    )
    assert _only(await harness.say("carol", "approvals")).card.title == (
        "Nothing waits for your decision."
    )
    bobs = _only(await harness.say("bob", "/outcome approvals"))
    assert "1 of 2 approvals (by @alice); awaiting @bob" in bobs.card.lines[0]

    # bob away: his deputy-less delegation to alice shows there, for bob.
    await harness.say("bob", "away until 2027-01-10, delegate @alice")
    for_bob = _only(await harness.say("alice", "approvals"))
    assert for_bob.card.title == "Waiting for your decision (1)"
    assert "for @bob, who is away" in for_bob.card.lines[0]
    await harness.click("alice", "approve", approval_id)
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.APPROVED
    assert _only(await harness.say("alice", "approvals")).card.buttons == ()


async def test_what_else_is_not_a_command(two_of_two: Harness) -> None:
    said = _only(await two_of_two.say("alice", "what is this"))
    assert said.card.title.startswith("I do not know 'what'")
