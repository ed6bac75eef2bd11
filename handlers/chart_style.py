"""What every Baton chart shares: a size that stays legible at a phone's thread width, the
palette, numbers in the metric's own units, and dates that never run into each other.

A phone shows an image about 360 CSS pixels wide. The figures are 4 inches wide, so one
point of type is about 1.25 px there whatever the resolution: 8.5-point tick labels read at
about 10 px and the 13-point headline at about 16 px. They are drawn at 200 dpi, twice the
old charts', and stay within 1024 x 1024 px, the largest image Teams shows."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.typing import CoordsType
from orchestrator.models import Verdict
from orchestrator.workspace.catalog import Metric, Workspace

WIDTH_IN = 4.0
DPI = 200
MAX_HEIGHT_IN = 1024 / DPI
"""Teams shows images up to 1024 px on a side; layouts keep within this height."""
HEADLINE_PT = 13.0
TEXT_PT = 8.5
SMALL_PT = 7.5

MEASURED = "#1565c0"
PLAN = "#757575"
TARGET = "#2e7d32"
DEADLINE = "#c62828"
TODAY = "#424242"
HUMAN = "#ef6c00"
AUTO = "#6a1b9a"
INK = "#212121"
MUTED = "#616161"
VERDICT_COLOURS = {
    Verdict.ON_TRACK: "#2e7d32",
    Verdict.ACHIEVED: "#2e7d32",
    Verdict.AT_RISK: "#b26a00",
    Verdict.OFF_TRACK: "#c62828",
    Verdict.MISSED: "#c62828",
}

BEHIND_LABEL = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"}
"""A label drawn over lines stays readable: white behind its letters."""

_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥"}


def label(
    axes: Axes,
    text: str,
    at: tuple[float, float],
    *,
    offset: tuple[float, float],
    align: tuple[str, str],
    color: str,
    coords: CoordsType = "data",
    bold: bool = False,
    behind: bool = False,
    zorder: float = 3,
) -> None:
    """Small type `offset` points from `at` (in `coords`), aligned (horizontally,
    vertically) to that spot; `behind` puts white behind its letters."""
    axes.annotate(
        text,
        at,
        xycoords=coords,
        xytext=offset,
        textcoords="offset points",
        ha=align[0],
        va=align[1],
        fontsize=SMALL_PT,
        color=color,
        weight="bold" if bold else "normal",
        bbox=BEHIND_LABEL if behind else None,
        zorder=zorder,
    )


def figure(height_in: float) -> tuple[Figure, FigureCanvasAgg]:
    """A blank figure with its own Agg canvas (no pyplot, no global state)."""
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    fig.patch.set_facecolor("white")
    return fig, FigureCanvasAgg(fig)


def png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()


def days(moment: datetime) -> float:
    """matplotlib's date unit: days since 1970-01-01 UTC."""
    return moment.timestamp() / 86_400


def short_date(moment: datetime) -> str:
    """`31 Mar`: for labels on the chart, where the axis already shows the year."""
    return f"{moment.day} {moment:%b}"


def long_date(moment: datetime) -> str:
    """`31 Mar 2027`: for headlines and alt text, which stand alone."""
    return f"{moment.day} {moment:%b %Y}"


def human_name(code: str, metric: Metric) -> str:
    """The metric as people call it: its description up to any parenthesis, else its code."""
    name = metric.description.split("(")[0].strip().rstrip(".")
    return name or code.replace("_", " ").capitalize()


def shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def value_text(metric: Metric, workspace: Workspace, value: float) -> str:
    """A reading in full, with its unit: `4.1%`, `£12,400`, `35 min`."""
    shown = metric.show(value)
    if metric.unit == "currency":
        symbol = _SYMBOLS.get(workspace.currency)
        return f"{symbol}{shown}" if symbol else f"{workspace.currency} {shown}"
    suffix = {"minutes": " min", "hours": " h"}.get(metric.unit, "")
    return shown + suffix


def axis_text(metric: Metric, workspace: Workspace) -> Callable[[float, object], str]:
    """Tick labels in the metric's units, short: `4%`, `£12k`, `35 min`."""

    def label(value: float, _position: object) -> str:
        number = _short(value)
        if metric.unit == "percent":
            return f"{number}%"
        if metric.unit == "currency":
            symbol = _SYMBOLS.get(workspace.currency)
            return f"{symbol}{number}" if symbol else f"{number} {workspace.currency}"
        return number + {"minutes": " min", "hours": " h"}.get(metric.unit, "")

    return label


def _short(value: float) -> str:
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    text = f"{value:.3g}"
    return "0" if text in ("-0", "0") else text


def style_axes(axes: Axes, metric: Metric, workspace: Workspace) -> None:
    """Few, legible ticks: at most five dates (concise, so they cannot overlap at this width)
    and five values in the metric's units."""
    locator = AutoDateLocator(minticks=3, maxticks=5)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    # Every tick a day and month (`5 Nov`) or a month alone; never a bare day number.
    concise = ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator,
        formats=["%Y", "%b", "%-d %b", "%H:%M", "%H:%M", "%S"],
        zero_formats=["", "%b %Y", "%-d %b", "%-d %b", "%H:%M", "%H:%M"],
        show_offset=False,
    )
    axes.xaxis.set_major_formatter(concise)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5))
    axes.yaxis.set_major_formatter(FuncFormatter(axis_text(metric, workspace)))
    axes.tick_params(labelsize=TEXT_PT, colors=INK, length=3)
    axes.grid(axis="y", color="#e0e0e0", linewidth=0.6)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
