"""Approvals and control through the public entry points: decisions, races, pause, expiry."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

from handlers.cards import Click
from orchestrator.models import ApprovalStatus, OutcomeStatus, StepStatus
from tests.conftest import CHANNEL, Harness

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


def outbox_rows(harness: Harness) -> int:
    with sqlite3.connect(harness.business.path) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


async def first_approval(harness: Harness) -> tuple[str, str]:
    outcome_id = await harness.state("olivia", STATEMENT)
    return outcome_id, harness.gateway.buttons("approve")[-1]


async def test_concurrent_approvals_execute_once(harness: Harness) -> None:
    outcome_id, approval_id = await first_approval(harness)
    clicks = [Click(CHANNEL, user, "approve", approval_id) for user in ("alice", "bob") * 3]
    results = await asyncio.gather(*(harness.conversation.on_click(c) for c in clicks))
    await harness.runtime.drain()
    told = [r for replies in results for r in replies]
    assert len(told) == 5 and all("Already approved" in r.card.title for r in told)
    steps = await harness.store.steps(outcome_id)
    send = next(s for s in steps if s.action == "send_winback")
    assert send.status is StepStatus.SUCCEEDED
    assert outbox_rows(harness) == send.audience > 0
    trail = await harness.store.audit_trail(await harness.store.outcome(outcome_id))
    assert (
        sum(1 for e in trail if e.action == "step.running" and e.subject == f"step:{send.id}") == 1
    )


async def test_decision_updates_the_card_in_place(harness: Harness) -> None:
    _, approval_id = await first_approval(harness)
    await harness.click("alice", "approve", approval_id)
    card = next(
        s for s in harness.gateway.sent if any(b.value == approval_id for b in s.card.buttons)
    )
    assert card.current.buttons == ()
    assert card.current.footer.startswith("Approved by @alice at 09:00")


async def test_only_approvers_decide_and_attempts_are_audited(harness: Harness) -> None:
    outcome_id, approval_id = await first_approval(harness)
    replies = await harness.click("mallory", "approve", approval_id)
    assert replies[0].private and "Only the approvers" in replies[0].card.title
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.PENDING
    trail = await harness.store.audit_trail(await harness.store.outcome(outcome_id))
    assert any(e.action == "approval.refused" and e.actor == "mallory" for e in trail)


async def test_reject_needs_a_reason_and_replans_around_it(harness: Harness) -> None:
    outcome_id, approval_id = await first_approval(harness)
    replies = await harness.click("bob", "reject", approval_id)
    assert "reason" in replies[0].card.title
    await harness.click("bob", "reject", approval_id, "Not before the pricing change")
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.REJECTED
    assert approval.reason == "Not before the pricing change"
    steps = await harness.store.steps(outcome_id)
    assert [s.play for s in steps if s.status is StepStatus.REJECTED] == ["win_back"]
    assert steps[-1].play == "account_managers"  # re-planned at once, around the rejection
    assert outbox_rows(harness) == 0
    plan = [s.current for s in harness.gateway.sent if s.card.title.startswith("Plan for")][-1]
    assert "Not before the pricing change" in plan.lines[0]


async def test_rejected_step_is_not_proposed_again(harness: Harness) -> None:
    await first_approval(harness)
    rejected: set[str] = set()
    for _ in range(40):
        for approval_id in harness.gateway.buttons("approve"):
            approval = await harness.store.approval(approval_id)
            if approval.status is ApprovalStatus.PENDING:
                await harness.click("bob", "reject", approval_id, "no")
                step = await harness.store.step(approval.step_id)
                signature = f"{step.action}{sorted(step.params.items())}"
                assert signature not in rejected
                rejected.add(signature)
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    assert len(rejected) >= 2


async def test_pause_while_a_step_is_in_flight(harness: Harness) -> None:
    outcome_id, approval_id = await first_approval(harness)
    await harness.conversation.on_click(Click(CHANNEL, "alice", "approve", approval_id))
    # The execute job is queued; the owner pauses before a worker picks it up.
    await harness.say("olivia", f"pause {outcome_id}")
    step = await harness.store.step((await harness.store.approval(approval_id)).step_id)
    assert step.status is StepStatus.APPROVED
    assert outbox_rows(harness) == 0
    harness.clock.advance(timedelta(days=2))
    harness.business.advance_day()
    await harness.runtime.drain()
    assert outbox_rows(harness) == 0
    await harness.say("olivia", f"resume {outcome_id}")
    assert (await harness.store.step(step.id)).status is StepStatus.SUCCEEDED
    assert outbox_rows(harness) == step.audience


async def test_kill_switch_stops_execution_for_the_workspace(harness: Harness) -> None:
    outcome_id, approval_id = await first_approval(harness)
    replies = await harness.say("mallory", "pause all")
    assert replies[0].private
    await harness.say("oscar", "pause all")
    await harness.click("alice", "approve", approval_id)
    assert outbox_rows(harness) == 0
    before = len(await harness.store.measurements(outcome_id))
    harness.clock.advance(timedelta(days=1))
    await harness.runtime.drain()
    assert len(await harness.store.measurements(outcome_id)) == before  # no ticks either
    await harness.say("oscar", "resume all")
    assert outbox_rows(harness) > 0


async def test_unanswered_approval_expires_with_the_default(harness: Harness) -> None:
    _, approval_id = await first_approval(harness)
    harness.clock.advance(timedelta(hours=49))
    await harness.runtime.drain()
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.EXPIRED
    assert (await harness.store.step(approval.step_id)).status is StepStatus.EXPIRED
    assert outbox_rows(harness) == 0
    replies = await harness.click("alice", "approve", approval_id)
    assert "Already expired" in replies[0].card.title


async def test_stop_cancels_work_and_withdraws_approvals(harness: Harness) -> None:
    outcome_id, approval_id = await first_approval(harness)
    await harness.say("olivia", f"stop {outcome_id}")
    assert (await harness.store.outcome(outcome_id)).status is OutcomeStatus.STOPPED
    assert (await harness.store.approval(approval_id)).status is ApprovalStatus.EXPIRED
    replies = await harness.say("olivia", f"resume {outcome_id}")
    assert "cannot be resumed" in replies[0].card.title
    await harness.click("alice", "approve", approval_id)
    assert outbox_rows(harness) == 0


async def test_commands_explain_themselves(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", STATEMENT)
    listing = await harness.say("alice", "list")
    assert outcome_id in listing[0].card.lines[0]
    status = await harness.say("alice", f"/outcome status {outcome_id}")
    assert status[0].card.title.startswith(f"Outcome {outcome_id}")
    audit = await harness.say("alice", f"audit {outcome_id}")
    assert any("outcome.confirmed" in line for line in audit[0].card.lines)
    assert "Usage" in (await harness.say("alice", "status"))[0].card.title
    assert "no outcome o999" in (await harness.say("alice", "status o999"))[0].card.title
    assert "Commands:" in (await harness.say("alice", "help"))[0].card.title
