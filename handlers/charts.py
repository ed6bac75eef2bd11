"""A PNG chart of an outcome: measurements against the straight line, target and deadline,
and markers where steps finished.

It uses matplotlib's object API without pyplot, so PNGs are drawn by the Agg renderer and no
display or global state is involved."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from matplotlib.figure import Figure
from orchestrator.catalog import Metric
from orchestrator.models import Measurement, Outcome, OutcomeKind, Step, StepStatus


def outcome_chart(
    outcome: Outcome, metric: Metric, measurements: Sequence[Measurement], steps: Sequence[Step]
) -> bytes:
    """The chart as PNG bytes (600 x 300 pixels)."""
    figure = Figure(figsize=(6, 3), dpi=100)
    axes = figure.subplots()
    if outcome.kind is not OutcomeKind.STANDING:
        # A standing outcome has a target share to hold, not a line to a deadline.
        line = _days([outcome.started_at, outcome.deadline])
        axes.plot(
            line,
            [outcome.baseline, outcome.target],
            linestyle="--",
            color="#888888",
            label="trajectory",
        )
    axes.axhline(outcome.target, color="#2e7d32", linewidth=0.8, label="target")
    if measurements:
        axes.plot(
            _days([m.at for m in measurements]),
            [m.value for m in measurements],
            marker="o",
            markersize=3,
            color="#1565c0",
            label=outcome.metric,
        )
    finished = [s.finished_at for s in steps if s.status is StepStatus.SUCCEEDED and s.finished_at]
    for moment in _days(finished) if finished else ():
        axes.axvline(moment, color="#ef6c00", linewidth=0.6, alpha=0.6)
    axes.xaxis_date()
    axes.set_title(f"{outcome.id}: {outcome.objective}"[:70], fontsize=9)
    axes.set_ylabel(metric.unit, fontsize=8)
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=7, loc="best")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _days(moments: Sequence[datetime]) -> list[float]:
    """matplotlib's date unit: days since 1970-01-01 UTC."""
    return [moment.timestamp() / 86_400 for moment in moments]
