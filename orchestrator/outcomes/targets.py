"""Targets within reason: a target the metric cannot reach (a percent below 0 or above
100, a negative count or amount, a workspace bound) is refused, and one far beyond the
baseline is asked about before anything starts. Both come with a "did you mean" when a
smaller number of the same digits would be reasonable (500 points -> 5 points)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.workspace.catalog import Metric

SHRINK_STEPS = 12
"""How many powers of ten a "did you mean" may take off the stated amount."""

TargetOf = Callable[[float], float]
"""The target a statement gives for another amount (same metric, change and baseline)."""


class Unreasonable(StrEnum):
    OUT_OF_BOUNDS = "out_of_bounds"
    FAR_BEYOND = "far_beyond"


@dataclass(frozen=True)
class Judgement:
    """Why a target is not within reason, and the amount the person may have meant."""

    problem: Unreasonable
    meant: float | None


def within_bounds(metric: Metric, value: float) -> bool:
    low, high = metric.bounds()
    return (low is None or value >= low) and (high is None or value <= high)


def far_beyond(metric: Metric, baseline: float, target: float) -> bool:
    """More than `metric.far_change` times the baseline away from it. A baseline of 0
    gives no scale to judge by, so nothing is far from it."""
    return baseline != 0 and abs(target - baseline) > metric.far_change * abs(baseline)


def judge(
    metric: Metric, baseline: float, target: float, amount: float, target_of: TargetOf
) -> Judgement | None:
    """None when `target` is within reason; else the problem and, when a smaller amount
    of the same digits would be reasonable, that amount. `target_of(amount)` is the target
    the statement would give with another amount."""
    if not within_bounds(metric, target):
        problem = Unreasonable.OUT_OF_BOUNDS
    elif far_beyond(metric, baseline, target):
        problem = Unreasonable.FAR_BEYOND
    else:
        return None
    return Judgement(problem, _meant(metric, baseline, amount, target_of))


def _meant(metric: Metric, baseline: float, amount: float, target_of: TargetOf) -> float | None:
    smaller = amount
    for _ in range(SHRINK_STEPS):
        smaller /= 10
        target = target_of(smaller)
        if within_bounds(metric, target) and not far_beyond(metric, baseline, target):
            return smaller if target != baseline else None
    return None
