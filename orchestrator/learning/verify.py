"""A step's incremental effect, once its effect window has passed: its treated and
control groups read per entity, compared, and translated into the outcome's metric."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from orchestrator.connectors import Connectors
from orchestrator.errors import BatonError
from orchestrator.learning.estimate import Interval, estimate, on_metric
from orchestrator.learning.holdout import EntityId
from orchestrator.learning.measure import in_order, read_entities, read_total
from orchestrator.models import Effect, Holdout, Step
from orchestrator.workspace.catalog import Action, Metric, Workspace

DEFAULT_WINDOW_DAYS = 14.0
_WITHIN = re.compile(r"within\s+(\d+(?:\.\d+)?)\s*(day|week|month)s?", re.IGNORECASE)
_DAYS = {"day": 1.0, "week": 7.0, "month": 30.0}

log = logging.getLogger("baton.learning")


def window(action: Action) -> timedelta:
    """How long after a step its effect is read: the action's `effect_days`, else what its
    expected impact says ("within 3 weeks"), else two weeks."""
    if action.effect_days is not None:
        return timedelta(days=action.effect_days)
    found = _WITHIN.search(action.expected_impact)
    days = float(found[1]) * _DAYS[found[2].lower()] if found else DEFAULT_WINDOW_DAYS
    return timedelta(days=days)


def awaits_effect(step: Step, since: date) -> bool:
    """Whether `step` held a control group back and its effect is still to be read (and it
    finished on or after `since`): the tick must keep reading it (and the archive keep it)
    until it is. The tick snapshot's script says the same in Lua."""
    held = step.holdout is not None and bool(step.holdout.control)
    finished = step.finished_at is not None and step.finished_at.date() >= since
    return held and finished and step.incremental is None and not step.shadow


def measurable(step: Step, metric: Metric) -> bool:
    """A step with a control group, on a metric read per entity; never a shadow step (it
    did nothing, so treated and control differ by chance alone)."""
    return bool(step.holdout and step.holdout.measured and metric.entity_query) and not step.shadow


def due(step: Step, action: Action, now: datetime) -> bool:
    return step.finished_at is not None and now - step.finished_at >= window(action)


async def read_pre(
    step: Step, workspace: Workspace, metric_name: str, connectors: Connectors
) -> dict[str, float]:
    """The audience's values before the step acts (the pre-period, for CUPED); empty
    when they cannot be read: the estimate then goes without the adjustment."""
    metric = workspace.metrics[metric_name]
    if not measurable(step, metric) or step.holdout is None:
        return {}
    ids = [*step.holdout.treated, *step.holdout.control]
    try:
        return await read_entities(connectors.get(metric.connection), metric, ids)
    except BatonError as error:
        log.warning("pre-period values for step %s not read: %s", step.id, error)
        return {}


async def measure(
    step: Step,
    workspace: Workspace,
    metric_name: str,
    connectors: Connectors,
    now: datetime,
    *,
    early: bool,
) -> Effect:
    """Read treated and control now and estimate the step's effect."""
    metric = workspace.metrics[metric_name]
    assert step.holdout is not None
    treated, control = step.holdout.treated, step.holdout.control
    connector = connectors.get(metric.connection)
    post = await read_entities(connector, metric, [*treated, *control])
    pre = step.holdout.pre
    minimum = workspace.policy.holdout_min
    interval = _interval(treated, control, post, pre, minimum)
    total = await read_total(connector, metric) if interval.measured else None
    effect = to_effect(interval, len(treated), total, metric, now, early=early)
    if not step.holdout.segments or not interval.measured:
        return effect
    parts = {
        segment: to_effect(part, audience, total, metric, now, early=early)
        for segment, (part, audience) in _by_segment(step.holdout, post, minimum).items()
    }
    return effect.model_copy(update={"segments": parts})


def _by_segment(
    held: Holdout, post: dict[str, float], minimum: int
) -> dict[str, tuple[Interval, int]]:
    """The estimate within each segment of the audience, as recorded with the split, and
    the segment's treated count."""
    found = {}
    for segment in sorted(set(held.segments.values())):
        t_ids = [e for e in held.treated if held.segments.get(str(e)) == segment]
        c_ids = [e for e in held.control if held.segments.get(str(e)) == segment]
        found[segment] = (_interval(t_ids, c_ids, post, held.pre, minimum), len(t_ids))
    return found


def _interval(
    treated: Sequence[EntityId],
    control: Sequence[EntityId],
    post: dict[str, float],
    pre: dict[str, float],
    minimum: int,
) -> Interval:
    """Treated against control as read; CUPED-adjusted when every member read has a
    pre-period value."""
    both = [str(e) for e in (*treated, *control) if str(e) in post]
    if pre and all(e in pre for e in both):
        t_ids = [e for e in treated if str(e) in post]
        c_ids = [e for e in control if str(e) in post]
        return estimate(
            in_order(post, t_ids),
            in_order(post, c_ids),
            pre_treated=in_order(pre, t_ids),
            pre_control=in_order(pre, c_ids),
            minimum=minimum,
        )
    return estimate(in_order(post, treated), in_order(post, control), minimum=minimum)


def to_effect(
    interval: Interval,
    audience: int,
    total: float | None,
    metric: Metric,
    now: datetime,
    *,
    early: bool,
) -> Effect:
    """The interval as a step's `Effect`, translated for the whole treated audience."""
    percent = metric.unit == "percent"

    def scaled(value: float | None) -> float | None:
        return None if value is None else round(on_metric(value, audience, total, percent), 6)

    return Effect(
        status=interval.status,
        treated=interval.treated,
        control=interval.control,
        method=interval.method,
        per_entity=interval.value,
        low=interval.low,
        high=interval.high,
        on_metric=scaled(interval.value),
        metric_low=scaled(interval.low),
        metric_high=scaled(interval.high),
        at=now,
        early=early,
    )
