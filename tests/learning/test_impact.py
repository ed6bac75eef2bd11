"""Impact on the card: a decided step's approval message learns its incremental effect,
measured against its control group once its effect window has passed, and only then."""

from __future__ import annotations

import re
from datetime import timedelta

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


def effect_lines(message: Sent) -> list[str]:
    return [line for line in message.current.lines if line.startswith("Measured effect")]


async def test_measured_effect_reaches_the_approval_card_once(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    audience = dict(approval_message(harness, approval_id).current.fields)["Audience"]
    assert audience == "36 customers get this message; 4 are held back to measure its effect"
    await harness.click("alice", "approve", approval_id)
    message = approval_message(harness, approval_id)
    step_id = (await harness.store.approval(approval_id)).step_id
    await next_day(harness)
    assert effect_lines(message) == []
    assert "Effect to be measured on 2027-01-25, when its effect window ends" in (
        message.current.lines
    )
    status = (await harness.say("olivia", f"status {outcome_id}"))[0].card.text()
    assert f"{step_id} send_winback [succeeded, human] · effect to be measured on 2027-01-25" in (
        status
    )
    for _ in range(21):  # the action's expected impact says "within 3 weeks"
        step = await harness.store.step(step_id)
        if step.incremental is not None:
            break
        assert step.effect is None  # never credited with the metric's whole movement
        await next_day(harness)
    step = await harness.store.step(step_id)
    assert step.status is StepStatus.SUCCEEDED and step.incremental is not None
    assert (step.incremental.treated, step.incremental.control) == (36, 4)
    (shown,) = effect_lines(message)
    assert "36 treated against 4 held back" in shown
    if step.incremental.on_metric is not None:  # the status card splits the movement
        status = (await harness.say("olivia", f"status {outcome_id}"))[0].card.text()
        assert re.search(
            r"Explained: [+-]\d+\.\d\d of the [+-]\d+\.\d\d movement by steps measured "
            r"against a control group \(95% CI [+-]\d+\.\d\d to [+-]\d+\.\d\d\)",
            status,
        )
    # Read once: the card does not change with later ticks.
    updates = len(message.updates)
    await next_day(harness)
    await next_day(harness)
    assert len(message.updates) == updates
    trail = await harness.store.audit_trail(await harness.store.outcome(outcome_id))
    verified = [e for e in trail if e.action == "step.verified" and e.subject == f"step:{step_id}"]
    assert len(verified) == 1 and verified[0].detail["control"] == 4
