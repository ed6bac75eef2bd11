"""Quorum approvals through the conversation, as several people click them: N of the
approvers, all of them, or one from each group; concurrent clicks, double clicks and
redeliveries decide once and start the step once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from handlers.cards import Click, Reply
from orchestrator.models import ApprovalStatus, AuditEvent, StepStatus
from orchestrator.workspace.catalog import Workspace
from tests.conftest import CHANNEL, Harness, Start

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
CONTACT_RULE = "customer contact needs a human"
FINANCE = ("fay", "fred")
SUPPORT = ("sam",)


def with_quorum(workspace: Workspace, approvers: tuple[str, ...], **quorum: Any) -> Workspace:
    """The demo workspace whose customer-contact rule asks for `quorum`, validated as a
    workspace file would be."""
    data = workspace.model_dump(mode="json")
    for rule in data["policy"]["rules"]:
        if rule["name"] == CONTACT_RULE:
            rule.update(quorum)
    data["people"]["approvers"] = list(approvers)
    data["people"]["groups"] = {"finance": list(FINANCE), "support": list(SUPPORT)}
    return Workspace.model_validate(data)


@pytest.fixture
def harnesses(started: Start, workspace: Workspace) -> Callable[..., Awaitable[Harness]]:
    async def build(approvers: tuple[str, ...], **quorum: Any) -> Harness:
        return await started(with_quorum(workspace, approvers, **quorum))

    return build


async def _requested(harness: Harness) -> str:
    await harness.state("olivia", STATEMENT)
    return harness.gateway.buttons("approve")[-1]


async def _trail(harness: Harness, approval_id: str) -> list[AuditEvent]:
    """The audit events about the approval and its step."""
    approval = await harness.store.approval(approval_id)
    trail = await harness.store.audit_trail(await harness.store.outcome(approval.outcome_id))
    about = {f"approval:{approval_id}", f"step:{approval.step_id}"}
    return [e for e in trail if e.subject in about]


async def _card_text(harness: Harness, approval_id: str) -> str:
    """The approval's card as everyone sees it now (the one message, updated in place)."""
    ref = await harness.store.message_ref(harness.store.keys.approval(approval_id), "msg")
    assert ref is not None
    cards = [s.current for s in harness.gateway.sent if s.ref == ref]
    assert len(cards) == 1
    card = cards[0]
    return " ".join([card.title, *(f"{k}: {v}" for k, v in card.fields), card.footer])


def _said(replies: list[Reply]) -> str:
    return " ".join(r.card.title for r in replies)


async def test_two_of_three_runs_on_the_second_approval_and_shows_who_is_awaited(
    harnesses: Callable[..., Any],
) -> None:
    harness: Harness = await harnesses(("alice", "bob", "carol"), approvals=2)
    approval_id = await _requested(harness)
    assert "0 of 2 approvals; awaiting @alice, @bob, @carol" in await _card_text(
        harness, approval_id
    )

    assert await harness.click("alice", "approve", approval_id) == []
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.PENDING
    assert (await harness.store.step(approval.step_id)).status is StepStatus.AWAITING_APPROVAL
    # The one card everyone sees, updated in place; the buttons stay for the others.
    card = await _card_text(harness, approval_id)
    assert "1 of 2 approvals (by @alice); awaiting @bob, @carol" in card
    assert approval_id in harness.gateway.buttons("approve")

    again = _said(await harness.click("alice", "approve", approval_id))
    assert "You have already approved this" in again and "each person counts once" in again
    assert len((await harness.store.approval(approval_id)).votes) == 1

    assert await harness.click("bob", "approve", approval_id) == []
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.APPROVED
    assert [v.counts_for for v in approval.votes] == ["alice", "bob"]
    step = await harness.store.step(approval.step_id)
    assert step.status is StepStatus.SUCCEEDED
    assert "Approved by @alice, @bob" in await _card_text(harness, approval_id)
    assert approval_id not in harness.gateway.buttons("approve")

    late = _said(await harness.click("carol", "approve", approval_id))
    assert "Already approved" in late
    actions = [e.action for e in await _trail(harness, approval_id)]
    assert actions.count("approval.voted") == 1
    assert actions.count("approval.approved") == 1
    assert actions.count("step.running") == 1
    decided = next(e for e in await _trail(harness, approval_id) if e.action == "approval.approved")
    assert decided.detail["approved_by"] == ["alice", "bob"] and decided.actor == "bob"


async def test_all_approvers_must_approve(harnesses: Callable[..., Any]) -> None:
    harness: Harness = await harnesses(("alice", "bob", "carol"), approvals="all")
    approval_id = await _requested(harness)
    await harness.click("carol", "approve", approval_id)
    await harness.click("alice", "approve", approval_id)
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.PENDING
    card = await _card_text(harness, approval_id)
    assert "2 of 3 approvals (by @carol, @alice); awaiting @bob" in card
    await harness.click("bob", "approve", approval_id)
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.APPROVED


async def test_one_from_each_group(harnesses: Callable[..., Any]) -> None:
    harness: Harness = await harnesses(("alice",), from_groups=["finance", "support"])
    approval_id = await _requested(harness)
    approval = await harness.store.approval(approval_id)
    assert set(approval.approvers) == {"alice", *FINANCE, *SUPPORT}
    assert "awaiting @alice, @fay, @fred, @sam (one from finance, one from support)" in (
        await _card_text(harness, approval_id)
    )

    await harness.click("fay", "approve", approval_id)
    await harness.click("fred", "approve", approval_id)  # finance twice: support still owed
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.PENDING
    assert "awaiting @sam (one from support)" in await _card_text(harness, approval_id)

    await harness.click("sam", "approve", approval_id)
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.APPROVED
    assert (await harness.store.step(approval.step_id)).status is StepStatus.SUCCEEDED


async def test_any_rejection_rejects_with_its_reason(harnesses: Callable[..., Any]) -> None:
    harness: Harness = await harnesses(("alice", "bob", "carol"), approvals=2)
    approval_id = await _requested(harness)
    await harness.click("alice", "approve", approval_id)
    replies = await harness.click("bob", "reject", approval_id, reason="wrong segment")
    assert any(r.card.buttons and r.card.buttons[0].action == "rule" for r in replies)
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.REJECTED
    assert approval.decided_by == "bob" and approval.reason == "wrong segment"
    assert (await harness.store.step(approval.step_id)).status is StepStatus.REJECTED
    assert "Rejected by @bob" in await _card_text(harness, approval_id)
    assert "wrong segment" in await _card_text(harness, approval_id)
    await harness.click("carol", "approve", approval_id)
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.REJECTED


async def test_a_quorum_workspace_names_only_known_groups(workspace: Workspace) -> None:
    data = with_quorum(workspace, ("alice",)).model_dump(mode="json")
    data["policy"]["rules"][0] = {"name": "x", "decide": "approve", "from_groups": ["legal"]}
    with pytest.raises(ValueError, match="unknown group 'legal'"):
        Workspace.model_validate(data)
    data["policy"]["rules"][0] = {"name": "x", "decide": "auto", "approvals": 2}
    with pytest.raises(ValueError, match="decides approve"):
        Workspace.model_validate(data)


PEOPLE = tuple(f"p{i:02d}" for i in range(12))


@pytest.mark.parametrize("needed", [2, 7, "all"])
async def test_concurrent_clicks_double_clicks_and_redeliveries_decide_once(
    harnesses: Callable[..., Any], needed: int | str
) -> None:
    """Everyone clicks at once, each twice, and each click is delivered twice: every
    person counts once, the approval is decided once and the step starts once."""
    harness: Harness = await harnesses(PEOPLE, approvals=needed)
    approval_id = await _requested(harness)
    clicks = [
        Click(CHANNEL, person, "approve", approval_id, delivery_id=f"{person}-{n}")
        for person in PEOPLE
        for n in (1, 2)  # a double click: two deliveries
        for _ in (1, 2)  # each delivered twice
    ]
    await asyncio.gather(*(harness.conversation.on_click(c) for c in clicks))
    await harness.runtime.drain()

    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.APPROVED
    voters = [v.counts_for for v in approval.votes]
    assert len(voters) == len(set(voters))
    assert len(voters) == (len(PEOPLE) if needed == "all" else needed)
    trail = await _trail(harness, approval_id)
    actions = [e.action for e in trail]
    assert actions.count("approval.approved") == 1
    assert actions.count("step.approved") == 1
    assert actions.count("step.running") == 1
    assert actions.count("approval.voted") == len(voters) - 1
    step = await harness.store.step(approval.step_id)
    assert step.status is StepStatus.SUCCEEDED
    marks = [
        k
        async for k in harness.store.redis.scan_iter(
            f"{harness.store.keys.approval(approval_id)}:vote:*"
        )
    ]
    assert len(marks) == len(voters)
