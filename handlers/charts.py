"""The status chart of one outcome, made to be read on a phone: a headline with the value
and the verdict, the readings in the metric's own units, the straight line to the target and
where the current pace leads, labelled target, deadline and today, and a marker for every
finished step that says what ran and who decided. Every chart comes with its alt text.

It uses matplotlib's object API without pyplot, so PNGs are drawn by the Agg renderer and no
display or global state is involved."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from orchestrator.models import Measurement, Outcome, OutcomeKind, Step, StepStatus
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.workspace.catalog import Workspace

from handlers import chart_style as style
from handlers import render, texts
from handlers.chart_alt import alt_text
from handlers.chart_header import Header, draw_header
from handlers.chart_model import Chart, Context, Window
from handlers.chart_steps import SHOWN_STEPS, automatic, draw_steps, key_lines, legend

__all__ = ["Chart", "chart_window", "draw_outcome", "outcome_chart"]

FULL_SPAN_SHARE = 0.4
"""Below this share of the way from start to deadline, the chart shows the time so far and
as much again ahead (at least a week), not the whole span with the data squeezed left."""
PACE_READINGS = 5
"""The projection follows the slope of this many latest readings."""


def outcome_chart(
    outcome: Outcome,
    workspace: Workspace,
    measurements: Sequence[Measurement],
    steps: Sequence[Step],
    *,
    now: datetime,
) -> Chart:
    """The chart (1200 px wide PNG) and its alt text."""
    fig, alt = draw_outcome(outcome, workspace, measurements, steps, now=now)
    return Chart(png=style.png(fig), alt=alt)


def draw_outcome(
    outcome: Outcome,
    workspace: Workspace,
    measurements: Sequence[Measurement],
    steps: Sequence[Step],
    *,
    now: datetime,
) -> tuple[Figure, str]:
    """The figure, before it becomes pixels (tests measure where its words fall)."""
    metric = workspace.metrics[outcome.metric]
    ctx = Context(outcome, workspace, metric, style.human_name(outcome.metric, metric), now)
    finished = sorted(
        (s for s in steps if s.status is StepStatus.SUCCEEDED and s.finished_at),
        key=lambda s: s.finished_at or now,
    )
    window = chart_window(outcome, measurements, now)
    projection = _projection(ctx, measurements)
    key = key_lines(finished)
    header = _header(ctx, measurements, window)
    kinds = {automatic(s) for s in finished}
    entries = (outcome.kind is OutcomeKind.TARGET) + bool(measurements) + bool(projection)
    fig, axes, legend_y = _layout(header, (entries + len(kinds) + 1) // 2, len(key))
    _draw(axes, ctx, window, measurements, projection)
    draw_steps(axes, finished, measurements, ctx.outcome.baseline, numbered=SHOWN_STEPS)
    legend(fig, axes, legend_y, kinds)
    for i, line in enumerate(key):
        bottom_in = 0.12 + 0.17 * (len(key) - 1 - i)
        fig.text(0.04, bottom_in / fig.get_figheight(), line, fontsize=style.SMALL_PT)
    return fig, alt_text(ctx, measurements, finished, projection)


def chart_window(outcome: Outcome, measurements: Sequence[Measurement], now: datetime) -> Window:
    """The stretch of time to show. A week of data on a quarter-long outcome would sit in the
    left tenth of a start-to-deadline axis, so early on the chart shows the time so far and
    as much again ahead, and says where the deadline is."""
    last = max([now, *(m.at for m in measurements)])
    if outcome.kind is OutcomeKind.STANDING:
        first = min([last - timedelta(days=28), *(m.at for m in measurements[-1:])])
        return Window(max(outcome.started_at, first), last, full=False)
    span = outcome.deadline - outcome.started_at
    elapsed = last - outcome.started_at
    if span <= timedelta(days=21) or elapsed >= span * FULL_SPAN_SHARE:
        return Window(outcome.started_at, max(outcome.deadline, last), full=True)
    ahead = max(elapsed, timedelta(days=7))
    return Window(outcome.started_at, min(outcome.deadline, last + ahead), full=False)


def _header(ctx: Context, measurements: Sequence[Measurement], window: Window) -> Header:
    outcome, metric = ctx.outcome, ctx.metric
    target = style.value_text(metric, ctx.workspace, outcome.target)
    if outcome.kind is OutcomeKind.STANDING:
        subtitle = texts.CHART_STANDING_SUBTITLE.format(metric=ctx.name, target=target)
    else:
        subtitle = texts.CHART_SUBTITLE.format(
            metric=ctx.name, target=target, deadline=style.long_date(outcome.deadline)
        )
    note = ""
    if not window.full and outcome.kind is OutcomeKind.TARGET:
        note = texts.CHART_WINDOW.format(
            start=style.short_date(window.start),
            end=style.short_date(window.end),
            deadline=style.long_date(outcome.deadline),
        )
    if not measurements:
        return Header(texts.CHART_NO_READING, "", style.MUTED, subtitle, note)
    latest = measurements[-1]
    evaluation = evaluate(outcome, latest.value, ctx.now)
    return Header(
        style.value_text(metric, ctx.workspace, latest.value),
        render.verdict(outcome, evaluation),
        style.VERDICT_COLOURS.get(evaluation.verdict, style.MUTED),
        subtitle,
        note,
    )


def _layout(header: Header, legend_rows: int, key_lines: int) -> tuple[Figure, Axes, float]:
    """A figure whose height fits the header, a plot 2 inches high, the legend and the key.
    Heights are in inches so the type keeps its size whatever is shown."""
    top_in = header.height()
    plot_in, ticks_in, legend_in = 2.0, 0.42, 0.17 * legend_rows + 0.08
    key_in = 0.17 * key_lines + (0.12 if key_lines else 0.0)
    height = top_in + plot_in + ticks_in + legend_in + key_in
    fig, _canvas = style.figure(height)
    bottom = key_in + legend_in + ticks_in
    axes = fig.add_axes((0.17, bottom / height, 0.76, plot_in / height))
    draw_header(fig, header)
    return fig, axes, (key_in + legend_in) / height


def _draw(
    axes: Axes,
    ctx: Context,
    window: Window,
    measurements: Sequence[Measurement],
    projection: list[tuple[datetime, float]],
) -> None:
    outcome = ctx.outcome
    shown = [outcome.baseline, outcome.target, *(m.value for m in measurements)]
    if outcome.kind is OutcomeKind.TARGET:
        axes.plot(
            [style.days(outcome.started_at), style.days(outcome.deadline)],
            [outcome.baseline, outcome.target],
            linestyle=(0, (5, 3)),
            color=style.PLAN,
            linewidth=1.2,
            label=texts.CHART_PLAN,
        )
    if measurements:
        axes.plot(
            [style.days(m.at) for m in measurements],
            [m.value for m in measurements],
            marker="o",
            markersize=3.5,
            linewidth=2.0,
            color=style.MEASURED,
            label=style.shortened(ctx.name, 26),
        )
    if projection:
        axes.plot(
            [style.days(at) for at, _ in projection],
            [v for _, v in projection],
            linestyle=(0, (1, 1.5)),
            linewidth=2.0,
            color=style.MEASURED,
            label=texts.CHART_PROJECTION,
        )
        _projected(axes, ctx, window, projection[-1])
        shown.append(_leaving(window, projection))
    pad = (window.end - window.start) * 0.04
    axes.set_xlim(style.days(window.start - pad), style.days(window.end + pad))
    _fit_values(axes, shown)
    style.style_axes(axes, ctx.metric, ctx.workspace)
    _marks(axes, ctx, window)


def _leaving(window: Window, projection: list[tuple[datetime, float]]) -> float:
    """The projection's value where it leaves the window, or at its end inside it."""
    (x0, y0), (x1, y1) = ((style.days(at), v) for at, v in projection)
    return float(np.interp(min(style.days(window.end), x1), [x0, x1], [y0, y1]))


def _fit_values(axes: Axes, shown: list[float]) -> None:
    """Values to show: baseline, target and everything drawn inside the window."""
    low, high = min(shown), max(shown)
    pad = (high - low) * 0.12 or abs(high) * 0.1 or 1.0
    axes.set_ylim(low - pad, high + pad)


def _marks(axes: Axes, ctx: Context, window: Window) -> None:
    """Target, deadline and today, each with its own label so none needs the legend."""
    outcome = ctx.outcome
    target = style.value_text(ctx.metric, ctx.workspace, outcome.target)
    axes.axhline(outcome.target, color=style.TARGET, linewidth=1.2)
    style.label(
        axes,
        texts.CHART_TARGET.format(value=target),
        (1.0, outcome.target),
        coords=axes.get_yaxis_transform(),
        offset=(-2, 3),
        align=("right", "bottom"),
        color=style.TARGET,
        bold=True,
        behind=True,
        zorder=7,
    )
    over_x = axes.get_xaxis_transform()
    now = style.days(ctx.now)
    axes.axvline(now, color=style.TODAY, linewidth=0.9, linestyle=(0, (2, 2)))
    length = window.end - window.start
    near = window.full and abs(outcome.deadline - ctx.now) < length * 0.3
    left = ctx.now - window.start < length * 0.2
    style.label(
        axes,
        texts.CHART_TODAY,
        (now, 0.02 if near else 1.0),
        coords=over_x,
        offset=(3 if left else -3, 2),
        align=("left" if left else "right", "bottom"),
        color=style.TODAY,
    )
    if outcome.kind is OutcomeKind.TARGET and window.full:
        deadline = style.days(outcome.deadline)
        axes.axvline(deadline, color=style.DEADLINE, linewidth=1.2)
        style.label(
            axes,
            f"{texts.CHART_DEADLINE} {style.short_date(outcome.deadline)}",
            (deadline, 1.0),
            coords=over_x,
            offset=(-3, 2),
            align=("right", "bottom"),
            color=style.DEADLINE,
            bold=True,
        )


def _projected(axes: Axes, ctx: Context, window: Window, end: tuple[datetime, float]) -> None:
    """The projection's end value, written where the line meets the deadline."""
    if not window.full:
        return
    value = style.value_text(ctx.metric, ctx.workspace, end[1])
    style.label(
        axes,
        texts.CHART_PROJECTED.format(value=value),
        (style.days(end[0]), end[1]),
        offset=(-5, 0),
        align=("right", "center"),
        color=style.MEASURED,
        bold=True,
        behind=True,
    )


def _projection(ctx: Context, measurements: Sequence[Measurement]) -> list[tuple[datetime, float]]:
    """Where the latest readings' pace leads by the deadline, held within the metric's bounds;
    nothing for a standing outcome (it has no deadline) or fewer than two readings."""
    recent = measurements[-PACE_READINGS:]
    if ctx.outcome.kind is OutcomeKind.STANDING or len(recent) < 2:
        return []
    xs = [style.days(m.at) for m in recent]
    if max(xs) - min(xs) <= 0:
        return []
    slope, intercept = np.polyfit(xs, [m.value for m in recent], 1)
    end = ctx.outcome.deadline
    if end <= recent[-1].at:
        return []
    value = float(slope * style.days(end) + intercept)
    low, high = ctx.metric.bounds()
    value = float(np.clip(value, -np.inf if low is None else low, np.inf if high is None else high))
    return [(recent[-1].at, recent[-1].value), (end, value)]
