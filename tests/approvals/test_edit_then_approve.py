"""Edit, then approve: an approver corrects a draft or a parameter within the action's
schema and policy, approves the corrected version, and exactly that version runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from handlers.cards import Reply
from orchestrator.models import ApprovalStatus, StepStatus
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, Start

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
NEW_DRAFT = "Subject: A note from Northwind\nHi, a short note: reply and we will call you."


def _workspace(workspace: Workspace, *, discount_first: bool, approvals: int = 1) -> Workspace:
    data = workspace.model_dump(mode="json")
    plays = data["playbooks"]["churn_rate"]
    if discount_first:
        plays.sort(key=lambda play: play["name"] != "discount_20")
    data["people"]["approvers"] = ["alice", "bob"]
    for rule in data["policy"]["rules"]:
        if rule["name"] == "customer contact needs a human" and approvals > 1:
            rule["approvals"] = approvals
    return Workspace.model_validate(data)


@pytest.fixture
def harnesses(started: Start, workspace: Workspace) -> Callable[..., Awaitable[Harness]]:
    async def build(**shape: Any) -> Harness:
        return await started(_workspace(workspace, **shape))

    return build


def _said(replies: list[Reply]) -> str:
    return " ".join(r.card.title for r in replies)


def _rows(harness: Harness, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(harness.business.path) as db:
        return list(db.execute(query).fetchall())


async def _card(harness: Harness, approval_id: str) -> dict[str, str]:
    ref = await harness.store.message_ref(harness.store.keys.approval(approval_id), "msg")
    card = next(s.current for s in harness.gateway.sent if s.ref == ref)
    return dict(card.fields) | {"_footer": card.footer, "_lines": "\n".join(card.lines)}


async def test_an_edited_draft_is_what_is_sent(harnesses: Callable[..., Any]) -> None:
    harness: Harness = await harnesses(discount_first=False)
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    original = await harness.store.step((await harness.store.approval(approval_id)).step_id)
    before = str(original.output["upstream"]["draft"])

    said = _said(await harness.say("alice", f"edit {approval_id} {NEW_DRAFT}"))
    assert f"You approved {approval_id} as edited" in said
    assert "+Hi, a short note: reply and we will call you." in said

    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.APPROVED and approval.decided_by == "alice"
    step = await harness.store.step(approval.step_id)
    assert step.status is StepStatus.SUCCEEDED
    bodies = {body for (body,) in _rows(harness, "SELECT body FROM outbox")}
    assert bodies == {NEW_DRAFT}  # exactly the approved version, to every customer
    card = await _card(harness, approval_id)
    assert "Edited by @alice before approving" in card
    assert NEW_DRAFT in card["_lines"]
    trail = await harness.store.audit_trail(await harness.store.outcome(approval.outcome_id))
    (edited,) = [e for e in trail if e.action == "step.edited"]
    assert edited.actor == "alice" and edited.subject == f"step:{step.id}"
    assert edited.detail["before"]["draft"] == before
    assert edited.detail["after"]["draft"] == NEW_DRAFT
    assert any(line.startswith("+Subject: A note") for line in edited.detail["diff"])
    order = [e.action for e in trail if e.subject in (f"step:{step.id}", f"approval:{approval_id}")]
    assert (
        order.index("step.edited") < order.index("approval.approved") < order.index("step.running")
    )


async def test_a_parameter_is_corrected_within_schema_and_policy(
    harnesses: Callable[..., Any],
) -> None:
    harness: Harness = await harnesses(discount_first=True)
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    step_id = (await harness.store.approval(approval_id)).step_id
    assert (await harness.store.step(step_id)).params == {"percent": 20}

    refusals = {
        "percent=40": "policy forbids the edited step",
        "percent=60": "percent must be at most 50",
        "percent=lots": "percent must be integer",
        "colour=red": "colour is not a parameter of this step",
    }
    for change, why in refusals.items():
        said = _said(await harness.say("alice", f"edit {approval_id} {change}"))
        assert why in said and "nothing was approved" in said, said
    assert "Only the approvers" in _said(
        await harness.say("mallory", f"edit {approval_id} percent=5")
    )
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.PENDING

    said = _said(await harness.say("bob", f"/outcome edit {approval_id} percent=10"))
    assert "percent: 20 -> 10" in said
    step = await harness.store.step(step_id)
    assert step.params == {"percent": 10} and step.status is StepStatus.SUCCEEDED
    percents = {p for (p,) in _rows(harness, "SELECT percent FROM discounts")}
    assert percents == {10}
    card = await _card(harness, approval_id)
    assert card["Edited by @bob before approving"] == "percent: 20 -> 10"
    assert card["Parameters"] == "percent=10"


async def test_an_edit_after_another_approval_is_refused(harnesses: Callable[..., Any]) -> None:
    harness: Harness = await harnesses(discount_first=False, approvals=2)
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    await harness.click("bob", "approve", approval_id)
    said = _said(await harness.say("alice", f"edit {approval_id} {NEW_DRAFT}"))
    assert "others approved this version already" in said
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.PENDING and approval.edits == ()
