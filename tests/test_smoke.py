"""The demo story through the platform-neutral handlers."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.models import OutcomeStatus, StepStatus
from tests.conftest import Harness


async def test_statement_asks_then_confirms(harness: Harness) -> None:
    await harness.say("olivia", "Cut monthly churn by 2% by the end of Q1")
    assert "relative" in harness.gateway.titles()[-1]
    await harness.say("olivia", "points")
    assert harness.gateway.titles()[-1] == "Statement of Benefit"
    assert await harness.store.outcomes("T1") == []
    outcome_id = "o" + harness.gateway.buttons("confirm")[-1][1:]
    await harness.click("olivia", "confirm", harness.gateway.buttons("confirm")[-1])
    outcome = await harness.store.outcome(outcome_id)
    assert outcome.status is OutcomeStatus.ACTIVE
    assert round(outcome.baseline - outcome.target, 6) == 2.0
    steps = await harness.store.steps(outcome_id)
    assert [s.action for s in steps] == ["find_at_risk", "draft_winback", "send_winback"]
    assert steps[-1].status is StepStatus.AWAITING_APPROVAL


async def test_outcome_reaches_its_target(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    for _ in range(60):
        for approval in harness.gateway.buttons("approve"):
            await harness.click("alice", "approve", approval)
        if (await harness.store.outcome(outcome_id)).status is not OutcomeStatus.ACTIVE:
            break
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    assert (await harness.store.outcome(outcome_id)).status is OutcomeStatus.ACHIEVED
