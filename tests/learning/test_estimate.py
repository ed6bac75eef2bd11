"""The estimators on known data: a fixed seed, a known effect inside the interval; no
effect, an interval around zero; too few entities, no number at all."""

from __future__ import annotations

import random

from orchestrator.learning.estimate import NOT_ENOUGH, estimate, on_metric, t_quantile


def bernoulli(rng: random.Random, p: float, n: int) -> list[float]:
    return [1.0 if rng.random() < p else 0.0 for _ in range(n)]


def test_a_known_difference_of_proportions_is_inside_the_interval() -> None:
    rng = random.Random(11)
    treated, control = bernoulli(rng, 0.10, 600), bernoulli(rng, 0.25, 600)
    found = estimate(treated, control)
    assert found.method == "difference of proportions"
    assert found.low is not None and found.high is not None
    assert found.low < -0.15 < found.high
    assert found.high < 0  # and it is clearly an effect


def test_no_effect_gives_an_interval_around_zero() -> None:
    rng = random.Random(12)
    found = estimate(bernoulli(rng, 0.2, 300), bernoulli(rng, 0.2, 300))
    assert found.low is not None and found.high is not None
    assert found.low < 0 < found.high


def test_a_known_difference_of_means_is_inside_the_interval() -> None:
    rng = random.Random(13)
    treated = [rng.gauss(12.0, 4.0) for _ in range(200)]
    control = [rng.gauss(10.0, 4.0) for _ in range(60)]
    found = estimate(treated, control)
    assert found.method == "difference of means"
    assert found.low is not None and found.high is not None
    assert found.low < 2.0 < found.high


def test_cuped_narrows_the_interval_and_keeps_the_effect() -> None:
    rng = random.Random(14)
    pre_t = [rng.gauss(20.0, 6.0) for _ in range(150)]
    pre_c = [rng.gauss(20.0, 6.0) for _ in range(150)]
    # Each entity's value follows its pre-period value; the step adds 1.5.
    treated = [x + 1.5 + rng.gauss(0, 1.5) for x in pre_t]
    control = [x + rng.gauss(0, 1.5) for x in pre_c]
    plain = estimate(treated, control)
    adjusted = estimate(treated, control, pre_treated=pre_t, pre_control=pre_c)
    assert adjusted.method == "CUPED"
    assert adjusted.low is not None and adjusted.high is not None
    assert adjusted.low < 1.5 < adjusted.high
    assert adjusted.half_width < plain.half_width / 2


def test_cuped_with_no_effect_contains_zero() -> None:
    rng = random.Random(15)
    pre_t = [rng.gauss(5.0, 2.0) for _ in range(80)]
    pre_c = [rng.gauss(5.0, 2.0) for _ in range(80)]
    treated = [x + rng.gauss(0, 1) for x in pre_t]
    control = [x + rng.gauss(0, 1) for x in pre_c]
    found = estimate(treated, control, pre_treated=pre_t, pre_control=pre_c)
    assert found.low is not None and found.high is not None
    assert found.low < 0 < found.high


def test_pre_period_values_that_do_not_vary_change_nothing() -> None:
    treated, control = [1.0, 0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0, 1.0]
    flat = estimate(treated, control, pre_treated=[0.0] * 5, pre_control=[0.0] * 5)
    assert flat == estimate(treated, control)


def test_too_few_entities_is_not_enough_data() -> None:
    found = estimate([1.0] * 30, [0.0, 1.0, 0.0], minimum=4)
    assert found.status == NOT_ENOUGH and found.value is None and not found.measured
    same = estimate([3.0] * 10, [3.0] * 10)  # no spread at all: no honest interval
    assert same.status == NOT_ENOUGH


def test_t_quantiles_match_the_table() -> None:
    for df, exact in ((3, 3.182), (5, 2.571), (10, 2.228), (30, 2.042), (1000, 1.962)):
        assert abs(t_quantile(0.975, df) - exact) < 0.005


def test_per_entity_effect_in_the_metric() -> None:
    # 36 customers each 10 points less likely to churn, of 500: -0.72 points of churn.
    assert round(on_metric(-0.10, 36, 500.0, percent=True), 4) == -0.72
    assert on_metric(-2.0, 10, None, percent=False) == -20.0  # a sum of the entities
