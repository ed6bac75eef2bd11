"""Incremental effect with a 95% interval: treated against control.

Yes/no values (0 or 1 per entity): a difference of proportions with the Agresti-Caffo
interval (one success and one failure added to each group), which keeps its coverage with
small control groups. Other values: a difference of means with Welch's interval. With a
pre-period value per entity that varies, a CUPED adjustment first: each value less
theta times its pre-period value's distance from the pooled mean, theta = cov(y, x) /
var(x) over both groups; it removes the share of the variance the pre-period explains.
Fewer than `minimum` entities in either group: not enough data, no number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, fmean, variance

Z95 = NormalDist().inv_cdf(0.975)
NOT_ENOUGH = "not_enough_data"
MEASURED = "measured"


@dataclass(frozen=True)
class Interval:
    """An estimate of treated minus control, per entity."""

    status: str
    treated: int
    control: int
    method: str = ""
    value: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def measured(self) -> bool:
        return self.status == MEASURED

    @property
    def half_width(self) -> float:
        if self.low is None or self.high is None:
            return math.inf
        return (self.high - self.low) / 2


def estimate(
    treated: Sequence[float],
    control: Sequence[float],
    *,
    pre_treated: Sequence[float] | None = None,
    pre_control: Sequence[float] | None = None,
    minimum: int = 4,
) -> Interval:
    """Treated minus control with a 95% interval. Pre-period values, when given, are in
    the same order as the values."""
    n_t, n_c = len(treated), len(control)
    if n_t < minimum or n_c < minimum:
        return Interval(NOT_ENOUGH, n_t, n_c)
    if pre_treated is not None and pre_control is not None:
        adjusted = cuped(treated, control, pre_treated, pre_control)
        if adjusted is not None:
            return _welch(*adjusted, method="CUPED")
    if _yes_no(treated) and _yes_no(control):
        return _proportions(treated, control)
    return _welch(treated, control, method="difference of means")


def cuped(
    treated: Sequence[float],
    control: Sequence[float],
    pre_treated: Sequence[float],
    pre_control: Sequence[float],
) -> tuple[list[float], list[float]] | None:
    """The values adjusted by their pre-period values; None when the pre-period values do
    not vary (nothing to adjust by) or do not match the values."""
    if len(pre_treated) != len(treated) or len(pre_control) != len(control):
        return None
    ys = [*treated, *control]
    xs = [*pre_treated, *pre_control]
    x_mean, y_mean = fmean(xs), fmean(ys)
    var_x = sum((x - x_mean) ** 2 for x in xs)
    if var_x <= 0:
        return None
    theta = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / var_x

    def adjust(values: Sequence[float], pre: Sequence[float]) -> list[float]:
        return [y - theta * (x - x_mean) for y, x in zip(values, pre, strict=True)]

    return adjust(treated, pre_treated), adjust(control, pre_control)


def _yes_no(values: Sequence[float]) -> bool:
    return all(v in (0, 1) for v in values)


def _proportions(treated: Sequence[float], control: Sequence[float]) -> Interval:
    n_t, n_c = len(treated), len(control)
    p_t, p_c = (sum(treated) + 1) / (n_t + 2), (sum(control) + 1) / (n_c + 2)
    se = math.sqrt(p_t * (1 - p_t) / (n_t + 2) + p_c * (1 - p_c) / (n_c + 2))
    centre = p_t - p_c
    return Interval(
        MEASURED,
        n_t,
        n_c,
        "difference of proportions",
        value=fmean(treated) - fmean(control),
        low=centre - Z95 * se,
        high=centre + Z95 * se,
    )


def _welch(treated: Sequence[float], control: Sequence[float], *, method: str) -> Interval:
    n_t, n_c = len(treated), len(control)
    a, b = variance(treated) / n_t, variance(control) / n_c
    diff = fmean(treated) - fmean(control)
    se = math.sqrt(a + b)
    if se == 0:
        return Interval(NOT_ENOUGH, n_t, n_c, method)  # no spread: no honest interval
    df = (a + b) ** 2 / (a**2 / (n_t - 1) + b**2 / (n_c - 1))
    margin = t_quantile(0.975, df) * se
    return Interval(MEASURED, n_t, n_c, method, diff, diff - margin, diff + margin)


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile, by the Cornish-Fisher expansion around the normal's (within
    0.5% of the exact value from 3 degrees of freedom on)."""
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def on_metric(per_entity: float, treated: int, total: float | None, percent: bool) -> float:
    """A per-entity effect in the outcome's metric: times the treated count, over the
    entities the metric is over when it is an average or a rate (in points for a percent)."""
    moved = per_entity * treated
    if total is None:
        return moved
    return moved / total * (100.0 if percent else 1.0) if total > 0 else 0.0
