"""The evidence library: every measured effect of a workspace's steps, pooled per action,
parameter class, metric and (where the action names a segment field) segment across
outcomes. The whole audience's estimate is segment "".

It is read from the steps' own records (each carries its estimate), so it can never
disagree with them. An entry's effect is in the outcome's metric per 100 entities
treated; entries pool by inverse-variance weighting (each weighted by one over its
squared standard error, taken from its 95% interval).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orchestrator.learning.estimate import Z95
from orchestrator.models import Effect, Step, StepStatus
from orchestrator.steps.policy import param_class
from orchestrator.store.redis_store import RedisStore

PER = 100
"""Effects are shown per this many entities treated."""


@dataclass(frozen=True)
class Key:
    action: str
    params: str
    """The parameter class: the parameters, canonical ("" for none)."""
    metric: str
    segment: str = ""
    """The segment's value ("" for the whole audience)."""


@dataclass(frozen=True)
class Evidence:
    """The pooled effect of one action and parameter class on one metric."""

    key: Key
    runs: int
    effect: float
    """In the metric, per `PER` entities treated."""
    low: float
    high: float
    treated: int
    control: int

    @property
    def se(self) -> float:
        return (self.high - self.low) / (2 * Z95)


def key_of(step: Step, metric: str, segment: str = "") -> Key:
    return Key(step.action, param_class(step.params), metric, segment)


def entries(steps: Iterable[Step], metric: str) -> list[tuple[Key, float, float, int, int]]:
    """(key, effect per `PER`, its standard error, treated, control) of each step measured
    against its control group."""
    found = []
    for step in steps:
        effect = step.incremental
        if step.status is not StepStatus.SUCCEEDED or effect is None:
            continue
        parts = [("", effect), *effect.segments.items()]
        found += [e for seg, part in parts if (e := _entry(key_of(step, metric, seg), part))]
    return found


def _entry(key: Key, effect: Effect) -> tuple[Key, float, float, int, int] | None:
    if not effect.treated or effect.on_metric is None:
        return None
    if effect.metric_low is None or effect.metric_high is None:
        return None
    scale = PER / effect.treated
    se = (effect.metric_high - effect.metric_low) / (2 * Z95) * scale
    if se <= 0:
        return None
    return key, effect.on_metric * scale, se, effect.treated, effect.control


def pool(found: Iterable[tuple[Key, float, float, int, int]]) -> dict[Key, Evidence]:
    """Inverse-variance pooling of each key's estimates."""
    groups: dict[Key, list[tuple[float, float, int, int]]] = {}
    for key, effect, se, treated, control in found:
        groups.setdefault(key, []).append((effect, se, treated, control))
    pooled = {}
    for key, runs in groups.items():
        weights = [1 / se**2 for _, se, _, _ in runs]
        mean = sum(w * e for w, (e, _, _, _) in zip(weights, runs, strict=True)) / sum(weights)
        se = math.sqrt(1 / sum(weights))
        pooled[key] = Evidence(
            key,
            len(runs),
            mean,
            mean - Z95 * se,
            mean + Z95 * se,
            sum(r[2] for r in runs),
            sum(r[3] for r in runs),
        )
    return pooled


async def library(
    store: RedisStore, workspace: str, metric: str | None = None
) -> dict[Key, Evidence]:
    """The workspace's evidence, from every outcome's steps; on `metric` alone if given
    (only its outcomes' steps are read)."""
    found = []
    for outcome in await store.outcomes(workspace):
        if metric is None or outcome.metric == metric:
            found += entries(await store.steps(outcome.id), outcome.metric)
    return pool(found)


def of_step(pooled: Mapping[Key, Evidence], step: Step, metric: str) -> tuple[Evidence, ...]:
    """The evidence for `step`'s action and parameters: the whole audience's first, then
    each segment's, by segment."""
    same = (step.action, param_class(step.params), metric)
    found = [e for k, e in pooled.items() if (k.action, k.params, k.metric) == same]
    return tuple(sorted(found, key=lambda e: e.key.segment))
