"""The digest's week view: one bar per outcome, how far it has come from its baseline to its
target, where the straight line expects it today, how it moved this week and what ran.

The status chart answers "how is this outcome doing"; this one answers "how did the week go
across everything I own", which is the question a Monday digest is read for."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, PercentFormatter
from orchestrator.models import Measurement, Outcome, OutcomeKind, Step, StepStatus
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.workspace.catalog import Workspace

from handlers import chart_style as style
from handlers import render, texts
from handlers.chart_header import Header, draw_header
from handlers.chart_model import Chart

MOST_ROWS = 5
"""Outcomes drawn; more are named in a line under the chart (each has its own card)."""
ROW_IN = 0.64


@dataclass(frozen=True)
class WeekRow:
    """One outcome's week, as the digest read it."""

    outcome: Outcome
    workspace: Workspace
    measurements: Sequence[Measurement]
    steps: Sequence[Step]


@dataclass(frozen=True)
class Line:
    label: str
    detail: str
    share: float
    share_before: float
    expected: float | None
    colour: str
    alt: str


def week_chart(rows: Sequence[WeekRow], *, since: datetime, now: datetime) -> Chart:
    """The week view (1200 px wide PNG) and its alt text."""
    fig, alt = draw_week(rows, since=since, now=now)
    return Chart(png=style.png(fig), alt=alt)


def draw_week(rows: Sequence[WeekRow], *, since: datetime, now: datetime) -> tuple[Figure, str]:
    """The figure, before it becomes pixels."""
    lines = [_line(row, since, now) for row in rows]
    shown = lines[:MOST_ROWS]
    more = len(lines) - len(shown)
    header = Header(
        texts.WEEK_CHART_TITLE.format(count=len(lines)),
        "",
        style.INK,
        f"{style.long_date(since)} to {style.long_date(now)}",
        texts.WEEK_CHART_SUBTITLE,
    )
    top_in, bottom_in = header.height(), 0.45 + (0.25 if more else 0.0)
    height = top_in + ROW_IN * max(1, len(shown)) + bottom_in
    fig, _canvas = style.figure(height)
    axes = fig.add_axes((0.04, bottom_in / height, 0.92, ROW_IN * max(1, len(shown)) / height))
    draw_header(fig, header)
    for position, line in enumerate(reversed(shown)):
        _bar(axes, position, line)
    _style(axes, len(shown))
    if more:
        fig.text(
            0.04,
            0.08 / height,
            texts.WEEK_CHART_MORE.format(count=more),
            fontsize=style.SMALL_PT,
            color=style.MUTED,
        )
    return fig, texts.WEEK_CHART_ALT.format(count=len(lines), rows=" ".join(x.alt for x in lines))


def _line(row: WeekRow, since: datetime, now: datetime) -> Line:
    outcome = row.outcome
    metric = row.workspace.metrics[outcome.metric]
    name = style.human_name(outcome.metric, metric)

    def show(value: float) -> str:
        return style.value_text(metric, row.workspace, value)

    ran = [
        s
        for s in row.steps
        if s.status is StepStatus.SUCCEEDED and s.finished_at and s.finished_at >= since
    ]
    human = sum(1 for s in ran if not s.decision.startswith("auto"))
    short = style.shortened(name, 20)
    if not row.measurements:
        label = texts.WEEK_CHART_ROW.format(metric=short, value=texts.CHART_NO_READING)
        detail = texts.WEEK_CHART_DETAIL.format(id=outcome.id, change="", ran=len(ran), human=human)
        alt = f"{outcome.id} {name}: {texts.CHART_NO_READING}."
        return Line(label, detail, 0.0, 0.0, None, style.MUTED, alt)
    latest = row.measurements[-1]
    before = _value_at(row.measurements, since)
    evaluation = evaluate(outcome, latest.value, now)
    verdict = render.verdict(outcome, evaluation)
    change = _change(metric.unit, latest.value - before, show)
    label = texts.WEEK_CHART_ROW.format(metric=short, value=show(latest.value))
    label += texts.WEEK_CHART_VERDICT.format(verdict=verdict)
    detail = texts.WEEK_CHART_DETAIL.format(
        id=outcome.id,
        change=texts.WEEK_CHART_CHANGE.format(change=change) if change else "",
        ran=len(ran),
        human=human,
    )
    share = _share(outcome, latest.value)
    expected = (
        None if outcome.kind is OutcomeKind.STANDING else _share(outcome, evaluation.expected)
    )
    alt = texts.WEEK_CHART_ALT_ROW.format(
        id=outcome.id, metric=name, value=show(latest.value), share=share, verdict=verdict
    )
    colour = style.VERDICT_COLOURS.get(evaluation.verdict, style.MUTED)
    return Line(label, detail, share, _share(outcome, before), expected, colour, alt)


def _value_at(measurements: Sequence[Measurement], moment: datetime) -> float:
    """The last reading at or before `moment`; the first reading if all came later."""
    earlier = [m for m in measurements if m.at <= moment]
    return (earlier or list(measurements))[-1 if earlier else 0].value


def _share(outcome: Outcome, value: float) -> float:
    """0..1 of the way from baseline to target (a standing outcome: of its target share)."""
    if outcome.kind is OutcomeKind.STANDING:
        return max(0.0, min(1.0, value / outcome.target)) if outcome.target else 1.0
    distance = outcome.target - outcome.baseline
    return 1.0 if distance == 0 else max(0.0, min(1.0, (value - outcome.baseline) / distance))


def _change(unit: str, delta: float, show: Callable[[float], str]) -> str:
    """This week's movement, signed; percentages move in points."""
    if abs(delta) < 1e-9:
        return ""
    sign = "+" if delta > 0 else "-"
    if unit == "percent":
        return f"{sign}{abs(delta):.1f} pts"
    return f"{sign}{show(abs(delta))}"


def _bar(axes: Axes, position: int, line: Line) -> None:
    """A grey track, last week's share faint, this week's in the verdict's colour, and a
    black tick where the straight line expects the outcome to be today."""
    y = position
    axes.barh(y, 1.0, height=0.26, color="#eeeeee", zorder=1)
    axes.barh(y, line.share_before, height=0.26, color=line.colour, alpha=0.3, zorder=2)
    axes.barh(y, line.share, height=0.14, color=line.colour, zorder=3)
    if line.expected is not None:
        axes.plot([line.expected] * 2, [y - 0.2, y + 0.2], color=style.INK, linewidth=1.6, zorder=4)
    axes.text(
        0.0,
        y + 0.2,
        line.label,
        fontsize=style.TEXT_PT,
        color=style.INK,
        va="bottom",
        weight="bold",
    )
    axes.text(0.0, y - 0.2, line.detail, fontsize=style.SMALL_PT, color=style.MUTED, va="top")


def _style(axes: Axes, rows: int) -> None:
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.55, max(1, rows) - 0.35)
    axes.xaxis.set_major_locator(FixedLocator([0, 0.25, 0.5, 0.75, 1.0]))
    axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.tick_params(labelsize=style.SMALL_PT, colors=style.MUTED, length=2)
    axes.set_yticks([])
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
