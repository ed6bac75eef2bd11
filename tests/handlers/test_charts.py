"""The outcome chart is a real PNG of the outcome's history."""

from __future__ import annotations

from datetime import timedelta

from handlers.charts import outcome_chart
from tests.conftest import Harness


async def test_chart_of_a_running_outcome_is_a_png(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    for approval in harness.gateway.buttons("approve"):
        await harness.click("alice", "approve", approval)
    for _ in range(3):
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    outcome = await harness.store.outcome(outcome_id)
    chart = outcome_chart(
        outcome,
        harness.runtime.ctx.workspace_of("T1"),
        await harness.store.measurements(outcome_id),
        await harness.store.steps(outcome_id),
        now=harness.clock.now(),
    )
    png = chart.png
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    assert width == 800 and 600 < height <= 1024  # phone-shaped, within Teams' 1024 x 1024
    assert outcome_id in chart.alt
