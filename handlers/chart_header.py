"""The words above a chart: the value and the verdict in large type, then what is measured
against what, then (when the chart does not show the whole span) which stretch it shows."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from handlers import chart_style as style

SUBTITLE_CHARS = 56
"""About what fits across the figure at the subtitle's size; longer subtitles wrap."""
HEADLINE_IN, LINE_IN, NOTE_IN = 0.42, 0.17, 0.2


@dataclass(frozen=True)
class Header:
    value: str
    """The latest reading with its unit, or a word saying there is none."""
    verdict: str
    colour: str
    """The verdict's colour: green, amber or red."""
    subtitle: str
    note: str = ""

    def lines(self) -> list[str]:
        return textwrap.wrap(self.subtitle, SUBTITLE_CHARS) or [""]

    def height(self) -> float:
        """Inches from the top edge to the top of the plot."""
        return (
            0.12 + HEADLINE_IN + LINE_IN * len(self.lines()) + (NOTE_IN if self.note else 0) + 0.2
        )


def draw_header(fig: Figure, header: Header) -> None:
    """Draw the header at the top of `fig`; positions are in inches from the top edge."""
    height = fig.get_figheight()

    def y(inches: float) -> float:
        return 1 - inches / height

    value = fig.text(
        0.04,
        y(0.12),
        header.value,
        fontsize=style.HEADLINE_PT,
        weight="bold",
        color=style.INK,
        va="top",
    )
    if header.verdict:
        canvas = fig.canvas
        assert isinstance(canvas, FigureCanvasAgg)
        renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
        right = value.get_window_extent(renderer).x1 / fig.bbox.width
        fig.text(
            right + 0.02,
            y(0.12),
            f"· {header.verdict}",
            fontsize=style.HEADLINE_PT,
            weight="bold",
            color=header.colour,
            va="top",
        )
    top = 0.12 + HEADLINE_IN
    for line in header.lines():
        fig.text(0.04, y(top), line, fontsize=style.TEXT_PT, color=style.MUTED, va="top")
        top += LINE_IN
    if header.note:
        fig.text(
            0.04,
            y(top + 0.03),
            header.note,
            fontsize=style.SMALL_PT,
            color=style.MUTED,
            style="italic",
            va="top",
        )
