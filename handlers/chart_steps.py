"""Finished steps on an outcome's chart: a filled orange diamond where a person approved
the step, an open purple circle where policy let it run by itself, the latest few numbered
and named in a key under the chart, and the legend that says which marker is which."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from orchestrator.models import Measurement, Step

from handlers import chart_style as style
from handlers import texts

NUMBER_PLACES = ((0, 10), (0, -11), (11, 0))
"""Above, below and right of its marker, in points: the numbered steps take one place each,
so their numbers stay apart even when the steps finished moments apart."""
SHOWN_STEPS = len(NUMBER_PLACES)
"""Steps numbered on the chart and named in its key; earlier ones are plain markers."""


def automatic(step: Step) -> bool:
    return step.decision.startswith("auto")


def _key_line(n: int, step: Step) -> str:
    who = texts.CHART_WHO["auto" if automatic(step) else "human"]
    return texts.CHART_STEP_KEY.format(
        n=n,
        action=step.action.replace("_", " "),
        who=who,
        date=style.short_date(step.finished_at or step.created_at),
    )


def key_lines(finished: Sequence[Step]) -> list[str]:
    """The latest steps, numbered as on the chart, with how many earlier ones are not named."""
    keyed = finished[-SHOWN_STEPS:]
    lines = [_key_line(len(finished) - len(keyed) + i + 1, s) for i, s in enumerate(keyed)]
    if len(finished) > len(keyed):
        lines.insert(0, texts.CHART_MORE_STEPS.format(count=len(finished) - len(keyed)))
    return lines


def draw_steps(
    axes: Axes,
    steps: Sequence[Step],
    measurements: Sequence[Measurement],
    baseline: float,
    *,
    numbered: int,
) -> None:
    """A filled orange diamond where a person approved the step, an open purple circle where
    policy let it run by itself; the latest few carry the number the key explains."""
    xs = [style.days(m.at) for m in measurements]
    ys = [m.value for m in measurements]
    for i, step in enumerate(steps):
        at = style.days(step.finished_at or step.created_at)
        y = step.value_at_finish
        if y is None:
            y = float(np.interp(at, xs, ys)) if xs else baseline
        auto = automatic(step)
        axes.plot(
            [at],
            [y],
            linestyle="none",
            zorder=5,
            marker="o" if auto else "D",
            markersize=7 if auto else 6.5,
            markerfacecolor="white" if auto else style.HUMAN,
            markeredgecolor=style.AUTO if auto else style.HUMAN,
            markeredgewidth=1.6,
        )
        if i >= len(steps) - numbered:
            style.label(
                axes,
                str(i + 1),
                (at, y),
                offset=NUMBER_PLACES[(i - len(steps)) % len(NUMBER_PLACES)],
                align=("center", "center"),
                color=style.AUTO if auto else style.HUMAN,
                bold=True,
                zorder=6,
            )


def legend(fig: Figure, axes: Axes, top: float, kinds: set[bool]) -> None:
    """Only what is drawn: the lines, then the kinds of step markers present."""
    handles, _labels = axes.get_legend_handles_labels()
    if False in kinds:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="D",
                markersize=6,
                color=style.HUMAN,
                label=texts.CHART_HUMAN_STEP,
            )
        )
    if True in kinds:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=6.5,
                markerfacecolor="white",
                markeredgecolor=style.AUTO,
                markeredgewidth=1.6,
                label=texts.CHART_AUTO_STEP,
            )
        )
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.02, top),
        ncols=2,
        frameon=False,
        fontsize=style.SMALL_PT,
        handlelength=2.0,
        columnspacing=1.0,
        borderaxespad=0.0,
        labelcolor=style.INK,
    )
