"""`approvals stats`: decisions per approver and per action, and time to decide."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from orchestrator.approvals import stats as decision_stats
from orchestrator.approvals.stats import percentile
from tests.approvals.test_quorum import STATEMENT, harnesses  # noqa: F401  (the fixture)
from tests.conftest import Harness


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 0.9) == 9.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.5) is None


async def test_stats_say_who_decided_how_fast_and_what_is_approved(
    harnesses: Callable[..., Any],  # noqa: F811
) -> None:
    harness: Harness = await harnesses(("alice", "bob", "carol"), approvals=2)
    assert (await harness.say("alice", "approvals stats"))[0].card.title == (
        "No approval has been requested in this workspace yet."
    )
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    harness.clock.advance(timedelta(minutes=10))
    await harness.click("alice", "approve", approval_id)
    harness.clock.advance(timedelta(minutes=110))
    await harness.click("bob", "approve", approval_id)

    (reply,) = await harness.say("carol", "/outcome approvals stats")
    assert reply.private
    lines = reply.card.lines
    assert lines[0] == (
        "1 decided (1 approved, 0 rejected), 0 expired to their default, 0 waiting; "
        "time to decide: median 2 h, p90 2 h"
    )
    assert lines[1] == "0 escalated · 0 edited before approval"
    assert "• @alice: 1 decisions (1 approved) · median 10 min, p90 10 min" in lines
    assert "• @bob: 1 decisions (1 approved) · median 2 h, p90 2 h" in lines
    assert "• Send the win-back message to at-risk customers: 1 of 1 approved (100%)" in lines


async def test_audit_and_a_window_say_the_same_figures(
    harnesses: Callable[..., Any],  # noqa: F811
) -> None:
    harness: Harness = await harnesses(("alice", "bob", "carol"), approvals=2)
    outcome_id = await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    harness.clock.advance(timedelta(minutes=10))
    await harness.say("bob", f"edit {approval_id} Subject: Hello\nA shorter note.")
    harness.clock.advance(timedelta(minutes=50))
    await harness.click("alice", "approve", approval_id)

    (audit,) = await harness.say("olivia", f"audit {outcome_id}")
    lines = [line.strip() for line in audit.card.lines]
    start = lines.index("Decisions on its approvals:")
    assert lines[start + 1].startswith("1 decided (1 approved, 0 rejected), 0 expired")
    assert lines[start + 2] == "0 escalated · 1 edited before approval"
    assert "• @bob: 1 decisions (1 approved) · median 10 min, p90 10 min" in lines
    assert "• @alice: 1 decisions (1 approved) · median 1 h, p90 1 h" in lines

    store = harness.store
    later = await decision_stats.gather(
        store, "T1", since=harness.clock.now() + timedelta(seconds=1)
    )
    assert later.empty, "nothing happened after the window opened"
    within = await decision_stats.gather(
        store, "T1", since=harness.clock.now() - timedelta(minutes=30)
    )
    assert set(within.approvers) == {"alice"} and within.edits == 0
    assert within.overall.decided == 1
    other = await decision_stats.gather(store, "T1", outcome_id="o-none")
    assert other.empty
