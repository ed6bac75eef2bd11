"""An outcome chart's alt text: what the picture shows, in a sentence or three, for people
who cannot see it and for clients that show no images."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from orchestrator.models import Measurement, OutcomeKind, Step
from orchestrator.outcomes.evaluate import evaluate

from handlers import chart_style as style
from handlers import render, texts
from handlers.chart_model import Context
from handlers.chart_steps import automatic


def alt_text(
    ctx: Context,
    measurements: Sequence[Measurement],
    steps: Sequence[Step],
    projection: list[tuple[datetime, float]],
) -> str:
    """What the chart shows, in a sentence or three, for people who cannot see it."""
    outcome = ctx.outcome

    def show(value: float) -> str:
        return style.value_text(ctx.metric, ctx.workspace, value)

    if not measurements:
        return texts.CHART_ALT_EMPTY.format(
            metric=ctx.name, id=outcome.id, target=show(outcome.target)
        )
    auto = sum(1 for s in steps if automatic(s))
    steps_text = (
        texts.CHART_ALT_STEPS.format(count=len(steps), human=len(steps) - auto, auto=auto)
        if steps
        else ""
    )
    latest = measurements[-1]
    fields = {
        "metric": ctx.name,
        "id": outcome.id,
        "value": show(latest.value),
        "verdict": render.verdict(outcome, evaluate(outcome, latest.value, ctx.now)),
        "target": show(outcome.target),
        "deadline": style.long_date(outcome.deadline),
        "readings": len(measurements),
        "first": style.long_date(measurements[0].at),
        "last": style.long_date(latest.at),
        "steps": steps_text,
        "projection": texts.CHART_ALT_PROJECTION.format(value=show(projection[-1][1]))
        if projection
        else "",
    }
    if outcome.kind is OutcomeKind.STANDING:
        return texts.CHART_ALT_STANDING.format(**fields)
    return texts.CHART_ALT.format(**fields)
