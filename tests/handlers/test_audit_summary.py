"""`/outcome audit <id>`: who decided what, when; what ran; what it changed."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Harness

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


async def test_audit_summary_reads_as_decisions_runs_and_changes(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    await harness.click("alice", "approve", approval_id)
    harness.clock.advance(timedelta(days=1))
    harness.business.advance_day()
    await harness.runtime.drain()
    card = (await harness.say("bob", f"audit {outcome_id}"))[0].card
    lines = card.lines
    sections = [line for line in lines if not line.startswith("  ")]
    assert sections == ["Decided:", "Ran:", "Decisions on its approvals:"]
    assert "  • @alice: 1 decisions (1 approved) · median 0 s, p90 0 s" in lines
    decided = lines[1 : lines.index("Ran:")]
    assert any("@olivia outcome.confirmed" in line for line in decided)
    assert any(f"@alice approved approval:{approval_id}" in line for line in decided)
    assert any("policy let run" in line and "internal work runs itself" in line for line in decided)
    step = await harness.store.step((await harness.store.approval(approval_id)).step_id)
    ran = lines[lines.index("Ran:") + 1 : lines.index("Decisions on its approvals:")]
    assert any(f"{step.id} ran ({step.audience} customers" in line for line in ran)
    assert "baton audit export" in card.footer
    # Its effect window ("within 3 weeks") passes: the trail carries its measured effect.
    for _ in range(21):
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    lines = (await harness.say("bob", f"audit {outcome_id}"))[0].card.lines
    changed = lines[lines.index("Changed:") + 1 :]
    assert any(
        f"{step.id}: " in line and "36 treated against 4 held back" in line for line in changed
    )
