"""Who may do what, through the public entry points (`on_message`, `on_click`).

Each test here is named in SECURITY.md's table. The demo workspace's people: owner
olivia, approvers alice and bob, on call oscar; mallory is a member with no role.
"""

from __future__ import annotations

import pytest

from handlers.cards import Click, Inbound, Reply
from orchestrator.models import ApprovalStatus, ConversationRef, OutcomeStatus
from tests.conftest import CHANNEL, Harness

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
OTHER = ConversationRef(platform="test", workspace="T2", channel="C9")


async def _approval(harness: Harness) -> tuple[str, str]:
    outcome_id = await harness.state("olivia", STATEMENT)
    return outcome_id, harness.gateway.buttons("approve")[-1]


async def _say(harness: Harness, user: str, text: str, where: ConversationRef) -> list[Reply]:
    replies = await harness.conversation.on_message(Inbound(where, user, text))
    await harness.runtime.drain()
    return replies


async def _click(
    harness: Harness, user: str, action: str, value: str, where: ConversationRef, reason: str = ""
) -> list[Reply]:
    replies = await harness.conversation.on_click(Click(where, user, action, value, reason))
    await harness.runtime.drain()
    return replies


async def _audit_count(harness: Harness, outcome_id: str) -> int:
    return len(await harness.store.audit_trail(await harness.store.outcome(outcome_id)))


@pytest.mark.parametrize("verb", ["pause", "stop", "check"])
async def test_strangers_cannot_control_an_outcome(harness: Harness, verb: str) -> None:
    outcome_id, _ = await _approval(harness)
    before = await _audit_count(harness, outcome_id)
    replies = await harness.say("mallory", f"{verb} {outcome_id}")
    assert replies[0].private and "not allowed" in replies[0].card.title
    assert (await harness.store.outcome(outcome_id)).status is OutcomeStatus.ACTIVE
    assert await _audit_count(harness, outcome_id) == before


async def test_resume_is_refused_to_strangers_and_allowed_to_on_call(harness: Harness) -> None:
    outcome_id, _ = await _approval(harness)
    await harness.say("alice", f"pause {outcome_id}")  # an approver of the outcome
    refused = await harness.say("mallory", f"resume {outcome_id}")
    assert refused[0].private and "not allowed" in refused[0].card.title
    assert (await harness.store.outcome(outcome_id)).status is OutcomeStatus.PAUSED
    await harness.say("oscar", f"resume {outcome_id}")  # on call
    assert (await harness.store.outcome(outcome_id)).status is OutcomeStatus.ACTIVE


@pytest.mark.parametrize("verb", ["pause all", "resume all"])
async def test_only_owner_approvers_on_call_use_the_kill_switch(
    harness: Harness, verb: str
) -> None:
    key = harness.runtime.ctx.keys.kill_switch("T1")
    if verb == "resume all":
        await harness.say("olivia", "pause all")
    before = await harness.store.redis.get(key)
    refused = await harness.say("mallory", verb)
    assert refused[0].private and "not allowed" in refused[0].card.title
    assert await harness.store.redis.get(key) == before
    await harness.say("bob", verb)
    assert (await harness.store.redis.get(key) is not None) == (verb == "pause all")


async def test_only_the_stating_owner_confirms_or_cancels(harness: Harness) -> None:
    await harness.say("olivia", STATEMENT)
    session = harness.gateway.buttons("confirm")[-1]
    for action in ("confirm", "cancel"):
        refused = await harness.click("alice", action, session)
        assert refused[0].private and "Only @olivia" in refused[0].card.title
    assert await harness.runtime.intake.load(session) is not None
    await harness.click("olivia", "confirm", session)
    assert (await harness.store.outcome("o" + session[1:])).status is OutcomeStatus.ACTIVE


async def test_only_approvers_decide_either_way(harness: Harness) -> None:
    _, approval_id = await _approval(harness)
    for user, action in (("mallory", "approve"), ("olivia", "approve"), ("oscar", "reject")):
        replies = await harness.click(user, action, approval_id, reason="no")
        assert replies[0].private and "Only the approvers" in replies[0].card.title
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.PENDING


async def test_read_only_commands_are_open_to_members_of_the_workspace(harness: Harness) -> None:
    outcome_id, _ = await _approval(harness)
    assert outcome_id in (await harness.say("mallory", "list"))[0].card.lines[0]
    status = await harness.say("mallory", f"status {outcome_id}")
    assert status[0].card.title.startswith(f"Outcome {outcome_id}")
    assert (await harness.say("mallory", f"audit {outcome_id}"))[0].card.lines
    assert (await harness.say("mallory", "policies"))[0].card.lines
    assert (await harness.say("mallory", "help"))[0].card.title


async def test_another_workspace_neither_sees_nor_controls_an_outcome(harness: Harness) -> None:
    """alice and oscar are people of T1; the same ids arriving from T2 get nothing of T1."""
    outcome_id, approval_id = await _approval(harness)
    listing = await _say(harness, "alice", "list", OTHER)
    assert outcome_id not in " ".join((listing[0].card.title, *listing[0].card.lines))
    for command in ("status", "audit", "pause", "stop", "check"):
        replies = await _say(harness, "oscar", f"{command} {outcome_id}", OTHER)
        assert replies[0].private and f"no outcome {outcome_id}" in replies[0].card.title
    await _say(harness, "oscar", "pause all", OTHER)
    assert await harness.store.redis.get(harness.runtime.ctx.keys.kill_switch("T1")) is None
    assert (await harness.store.outcome(outcome_id)).status is OutcomeStatus.ACTIVE
    for action in ("approve", "reject", "rule"):
        replies = await _click(harness, "alice", action, approval_id, OTHER, reason="no")
        assert replies[0].private
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.PENDING


async def test_another_workspace_cannot_confirm_or_cancel_a_statement(harness: Harness) -> None:
    await harness.say("olivia", STATEMENT)
    session = harness.gateway.buttons("confirm")[-1]
    for action in ("confirm", "cancel"):
        replies = await _click(harness, "olivia", action, session, OTHER)
        assert replies[0].private
    assert await harness.runtime.intake.load(session) is not None
    assert await harness.store.outcomes("T2") == []


async def test_rule_accept_and_remove_need_a_governor_of_the_workspace(harness: Harness) -> None:
    _, approval_id = await _approval(harness)
    await harness.click("alice", "reject", approval_id, reason="too broad")
    refused = await harness.click("oscar", "rule", approval_id)  # on call does not set policy
    assert refused[0].private and "Only the owner" in refused[0].card.title
    elsewhere = await _click(harness, "bob", "rule", approval_id, OTHER)
    assert elsewhere[0].private
    assert await harness.say("oscar", "policies remove 1")
    added = await harness.click("bob", "rule", approval_id)
    assert "Rule added by @bob" in added[0].card.title
    refused = await harness.say("mallory", "policies remove 1")
    assert "Only the owner" in refused[0].card.title
    assert (await _say(harness, "olivia", "policies remove 1", OTHER))[0].private
    removed = await harness.say("alice", "policies remove 1")
    assert removed[0].card.title.startswith("Rule removed by @alice")


async def test_unknown_actions_and_forged_values_change_nothing(harness: Harness) -> None:
    outcome_id, approval_id = await _approval(harness)
    before = await _audit_count(harness, outcome_id)
    assert await harness.click("alice", "delete_everything", approval_id) == []
    for value in ("", "a999", "../x", approval_id + "x", "*"):
        for action in ("approve", "confirm", "rule"):
            assert (await harness.click("alice", action, value))[0].private
    assert await _audit_count(harness, outcome_id) == before
    assert CHANNEL.workspace == "T1"
