"""Impact on the card: a decided step's approval message learns its measured effect."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.loop import VERIFY_WINDOW
from orchestrator.models import StepStatus
from tests.conftest import Harness
from tests.fakes import Sent

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


def approval_message(harness: Harness, approval_id: str) -> Sent:
    return next(
        s for s in harness.gateway.sent if any(b.value == approval_id for b in s.card.buttons)
    )


async def next_day(harness: Harness) -> None:
    harness.clock.advance(timedelta(days=1))
    harness.business.advance_day()
    await harness.runtime.drain()


async def test_measured_effect_reaches_the_approval_card(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    await harness.click("alice", "approve", approval_id)
    message = approval_message(harness, approval_id)
    assert not any("Measured effect" in line for line in message.current.lines)
    await next_day(harness)
    step = await harness.store.step((await harness.store.approval(approval_id)).step_id)
    assert step.status is StepStatus.SUCCEEDED and step.effect is not None
    shown = [line for line in message.current.lines if "Measured effect" in line]
    assert shown == [
        f"Measured effect since it ran: {step.effect:+.2f} (churn_rate); "
        f"expected: {(await harness.store.approval(approval_id)).expected_impact}"
    ]
    assert message.current.footer.startswith("Approved by @alice")
    # A further tick moves the metric again: exactly one more update, with the new effect.
    ticked = len(message.updates)
    await next_day(harness)
    again = await harness.store.step(step.id)
    assert again.effect != step.effect
    assert len(message.updates) == ticked + 1
    assert f"{again.effect:+.2f}" in message.current.lines[-1]
    trail = await harness.store.audit_trail(await harness.store.outcome(outcome_id))
    assert any(e.action == "step.verified" and e.subject == f"step:{step.id}" for e in trail)


async def test_cards_stop_changing_after_the_verification_window(harness: Harness) -> None:
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    await harness.click("alice", "approve", approval_id)
    await next_day(harness)
    message = approval_message(harness, approval_id)
    harness.clock.advance(VERIFY_WINDOW + timedelta(days=1))
    frozen = len(message.updates)
    step_id = (await harness.store.approval(approval_id)).step_id
    effect = (await harness.store.step(step_id)).effect
    await next_day(harness)
    await next_day(harness)
    assert len(message.updates) == frozen
    assert (await harness.store.step(step_id)).effect == effect  # no longer verified
