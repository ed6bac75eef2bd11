"""Away and delegate, through the conversation: who decides for an approver who is away,
within what policy allows, audited as "approved by @bob for @alice"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from handlers.cards import Reply
from orchestrator.models import ApprovalStatus, AuditEvent, StepStatus
from orchestrator.workspace.catalog import Workspace
from tests.approvals.test_quorum import CONTACT_RULE
from tests.conftest import Harness, Start

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


def _workspace(workspace: Workspace, **policy: Any) -> Workspace:
    data = workspace.model_dump(mode="json")
    data["people"]["approvers"] = ["alice", "bob"]
    data["people"]["deputies"] = {"alice": ["dave"]}
    data["people"]["names"] = {}
    for rule in data["policy"]["rules"]:
        if rule["name"] == CONTACT_RULE:
            rule.update(policy.pop("rule", {}))
    data["policy"].update(policy)
    return Workspace.model_validate(data)


@pytest.fixture
def harnesses(started: Start, workspace: Workspace) -> Callable[..., Awaitable[Harness]]:
    async def build(**policy: Any) -> Harness:
        return await started(_workspace(workspace, **policy))

    return build


def _said(replies: list[Reply]) -> str:
    return " ".join(r.card.title for r in replies)


async def _card(harness: Harness, approval_id: str) -> str:
    ref = await harness.store.message_ref(harness.store.keys.approval(approval_id), "msg")
    card = next(s.current for s in harness.gateway.sent if s.ref == ref)
    return " ".join([card.title, *(f"{k}: {v}" for k, v in card.fields), card.footer])


async def _trail(harness: Harness, approval_id: str) -> list[AuditEvent]:
    approval = await harness.store.approval(approval_id)
    trail = await harness.store.audit_trail(await harness.store.outcome(approval.outcome_id))
    return [e for e in trail if e.subject == f"approval:{approval_id}"]


async def test_a_named_delegate_decides_for_the_approver_away(
    harnesses: Callable[..., Any],
) -> None:
    harness: Harness = await harnesses(rule={"approvals": "all"})
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]

    said = _said(await harness.say("alice", "away until 2027-01-10, delegate @bob"))
    assert "away until the end of 2027-01-10" in said and "@bob decides" in said
    assert "Approvers: @alice (away: @bob decides), @bob" in await _card(harness, approval_id)

    await harness.click("bob", "approve", approval_id)  # bob's own
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.PENDING
    await harness.click("bob", "approve", approval_id)  # then for alice
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.APPROVED
    assert [(v.voter, v.counts_for) for v in approval.votes] == [("bob", "bob"), ("bob", "alice")]
    assert (await harness.store.step(approval.step_id)).status is StepStatus.SUCCEEDED
    assert "Approved by @bob, @bob for @alice" in await _card(harness, approval_id)
    decided = next(e for e in await _trail(harness, approval_id) if e.action.endswith("approved"))
    assert decided.actor == "bob" and decided.detail["for"] == "alice"
    third = _said(await harness.click("bob", "approve", approval_id))
    assert "Already approved" in third


async def test_a_delegate_must_be_eligible_or_a_listed_deputy(
    harnesses: Callable[..., Any],
) -> None:
    harness: Harness = await harnesses()
    said = _said(await harness.say("alice", "away until 2027-01-10, delegate @carol"))
    assert "@carol may not approve in this workspace" in said
    assert "nothing was changed" in said
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    refused = _said(await harness.click("carol", "approve", approval_id))
    assert "Only the approvers" in refused
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.PENDING

    # dave is no approver, but the workspace file names him alice's deputy.
    said = _said(await harness.say("alice", "away until 2027-01-10, delegate @dave"))
    assert "@dave decides your approvals" in said
    assert await harness.click("dave", "approve", approval_id) == []
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.APPROVED and approval.decided_by == "dave"
    assert "Approved by @dave for @alice" in await _card(harness, approval_id)


async def test_a_standing_deputy_decides_until_the_approver_is_back(
    harnesses: Callable[..., Any],
) -> None:
    harness: Harness = await harnesses()
    said = _said(await harness.say("alice", "away until 2027-01-10"))
    assert "@dave decides your approvals" in said
    await harness.say("alice", "back")
    await harness.state("olivia", STATEMENT)
    first = harness.gateway.buttons("approve")[-1]
    assert "Only the approvers" in _said(await harness.click("dave", "approve", first))

    await harness.say("alice", "away until 2027-01-05")
    assert await harness.click("dave", "reject", first, reason="not now") != []
    rejected = await harness.store.approval(first)
    assert rejected.status is ApprovalStatus.REJECTED
    assert "Rejected by @dave for @alice" in await _card(harness, first)


async def test_an_absence_ends_with_its_day(harnesses: Callable[..., Any]) -> None:
    harness: Harness = await harnesses()
    await harness.say("alice", "away until 2027-01-04, delegate @dave")
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    harness.clock.advance(timedelta(days=1))  # 5 January: alice is back
    assert "Only the approvers" in _said(await harness.click("dave", "approve", approval_id))
    past = _said(await harness.say("alice", "away until 2027-01-04"))
    assert "has passed" in past


async def test_a_reminder_names_who_decides_for_an_approver_away(
    harnesses: Callable[..., Any],
) -> None:
    harness: Harness = await harnesses(remind_after_h=4)
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    await harness.say("bob", "away until 2027-01-10, delegate @alice")
    harness.clock.advance(timedelta(hours=4))
    await harness.runtime.drain()
    reminders = [s.card for s in harness.gateway.sent if s.card.title.startswith("Reminder")]
    assert reminders
    approvers = dict(reminders[-1].fields)["Approvers"]
    assert approvers == "@alice, @bob (away: @alice decides)"
    events = [e.action for e in await _trail(harness, approval_id)]
    assert "approval.reminded" in events


async def test_an_escalation_to_someone_away_names_their_delegate(
    harnesses: Callable[..., Any],
) -> None:
    harness: Harness = await harnesses(escalate_after_h=2)
    await harness.say("oscar", "away until 2027-01-10, delegate @bob")
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    harness.clock.advance(timedelta(hours=2))
    await harness.runtime.drain()
    approval = await harness.store.approval(approval_id)
    assert "oscar" in approval.approvers and approval.stand_ins == {"oscar": "bob"}
    assert "@oscar (away: @bob decides)" in await _card(harness, approval_id)


async def test_a_request_made_while_an_approver_is_away_names_the_delegate(
    harnesses: Callable[..., Any],
) -> None:
    harness: Harness = await harnesses()
    await harness.say("alice", "away until 2027-01-10, delegate @bob")
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    assert "Approvers: @alice (away: @bob decides), @bob" in await _card(harness, approval_id)
