"""What a step's holdout and measured effect say on cards: the audience split, the
incremental effect with its interval, and the movement it explains in a report."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from orchestrator.learning.evidence import Evidence
from orchestrator.learning.verify import measurable, window
from orchestrator.models import Approval, Effect, Lane, Outcome, Step, StepStatus
from orchestrator.workspace.catalog import Workspace

from handlers import texts


def in_metric(value: float, workspace: Workspace, metric: str) -> str:
    """A change in the outcome's metric: "-0.42 points of churn_rate", "+3.00 mrr"."""
    unit = workspace.metrics[metric].unit
    return f"{value:+.2f} points of {metric}" if unit == "percent" else f"{value:+.2f} {metric}"


def audience(step: Step, workspace: Workspace, noun: Callable[[int], str]) -> str:
    """The approval card's audience: who gets the step and who is held back (`noun`:
    a count in the rows' words, "36 customers")."""
    held = step.holdout
    if held is None:
        return noun(step.audience)
    if not held.measured:
        return texts.HOLDOUT_NONE.format(audience=noun(step.audience), reason=held.reason)
    action = workspace.actions[step.action]
    return texts.HOLDOUT_SPLIT.format(
        treated=noun(len(held.treated)),
        what="message" if action.reaches_customers else "step",
        control=len(held.control),
        verb="is" if len(held.control) == 1 else "are",
    )


def effect_lines(step: Step, outcome: Outcome, workspace: Workspace) -> list[str]:
    """What the step's approval card says of its effect once it ran."""
    if step.status is not StepStatus.SUCCEEDED:
        return []
    effect = step.incremental
    if effect is not None:
        return [_measured(effect, outcome, workspace)]
    metric = workspace.metrics[outcome.metric]
    if measurable(step, metric) and step.finished_at is not None:
        due = step.finished_at + window(workspace.actions[step.action])
        return [texts.EFFECT_PENDING.format(when=due.strftime("%Y-%m-%d"))]
    if step.effect is not None:
        moved = in_metric(step.effect, workspace, outcome.metric)
        return [texts.EFFECT_BEFORE_AFTER.format(effect=moved)]
    return []


def _measured(effect: Effect, outcome: Outcome, workspace: Workspace) -> str:
    early = texts.EFFECT_EARLY if effect.early else ""
    if effect.on_metric is None or effect.metric_low is None or effect.metric_high is None:
        return texts.EFFECT_NOT_ENOUGH.format(
            treated=effect.treated, control=effect.control, early=early
        )
    return texts.EFFECT_MEASURED.format(
        effect=in_metric(effect.on_metric, workspace, outcome.metric),
        low=f"{effect.metric_low:+.2f}",
        high=f"{effect.metric_high:+.2f}",
        treated=effect.treated,
        control=effect.control,
        early=early,
    )


def step_effect(step: Step, outcome: Outcome, workspace: Workspace) -> str:
    """A report line's credit: the incremental effect, or why there is none. Lookups and
    drafts are credited with nothing."""
    if step.lane in (Lane.LOGIC, Lane.INTELLIGENCE) or step.status is not StepStatus.SUCCEEDED:
        return ""
    effect = step.incremental
    if effect is not None and effect.on_metric is not None:
        return texts.STEP_EFFECT.format(
            effect=in_metric(effect.on_metric, workspace, outcome.metric),
            low=f"{effect.metric_low:+.2f}",
            high=f"{effect.metric_high:+.2f}",
            control=effect.control,
        )
    if effect is not None:
        return texts.STEP_NOT_ENOUGH
    if measurable(step, workspace.metrics[outcome.metric]) and step.finished_at is not None:
        due = step.finished_at + window(workspace.actions[step.action])
        return texts.STEP_PENDING.format(when=due.strftime("%Y-%m-%d"))
    if step.effect is not None:
        return texts.STEP_NOT_CAUSAL_MOVED.format(effect=f"{step.effect:+.2f}")
    return texts.STEP_NOT_CAUSAL


def _split(
    outcome: Outcome, value: float, steps: Sequence[Step]
) -> tuple[float, float, float] | None:
    """(movement, explained, explained's 95% half-width), or None with no measured step.
    The half-widths of independent control groups add in quadrature."""
    effects = [
        s.incremental
        for s in steps
        if s.incremental is not None
        and s.incremental.on_metric is not None
        and s.status is StepStatus.SUCCEEDED
    ]
    if not effects:
        return None
    total = sum(e.on_metric or 0.0 for e in effects)
    spread = math.sqrt(
        sum(((e.metric_high or 0.0) - (e.metric_low or 0.0)) ** 2 / 4 for e in effects)
    )
    return value - outcome.baseline, total, spread


def explained(outcome: Outcome, value: float, steps: Sequence[Step], workspace: Workspace) -> str:
    """The report's split of the outcome's movement: what measured steps explain, and the
    rest (trend, season, everything else)."""
    movement = value - outcome.baseline
    unit = " points" if workspace.metrics[outcome.metric].unit == "percent" else ""
    found = _split(outcome, value, steps)
    if found is None:
        return texts.REPORT_UNEXPLAINED.format(movement=f"{movement:+.2f}{unit}")
    movement, total, spread = found
    return texts.REPORT_EXPLAINED.format(
        movement=f"{movement:+.2f}{unit}",
        explained=f"{total:+.2f}",
        low=f"{total - spread:+.2f}",
        high=f"{total + spread:+.2f}",
        rest=f"{movement - total:+.2f}",
    )


def explained_field(
    outcome: Outcome, value: float, steps: Sequence[Step]
) -> tuple[str, str] | None:
    """The progress card's field, once a step has been measured."""
    found = _split(outcome, value, steps)
    if found is None:
        return None
    movement, total, spread = found
    return texts.PROGRESS_EXPLAINED_FIELD, texts.PROGRESS_EXPLAINED.format(
        explained=f"{total:+.2f}",
        movement=f"{movement:+.2f}",
        low=f"{total - spread:+.2f}",
        high=f"{total + spread:+.2f}",
    )


def evidence_line(
    approval: Approval, step: Step, outcome: Outcome, workspace: Workspace, rows: str
) -> list[str]:
    """What earlier runs of this action and parameters measured, for the approval card."""
    found = approval.evidence
    if not found:
        measured = measurable(step, workspace.metrics[outcome.metric])
        return [texts.EVIDENCE_NONE] if measured else []
    runs = int(found["runs"])
    lines = [
        texts.EVIDENCE_LINE.format(
            runs=runs,
            word="run" if runs == 1 else "runs",
            effect=in_metric(found["effect"], workspace, outcome.metric),
            rows=rows,
            low=f"{found['low']:+.2f}",
            high=f"{found['high']:+.2f}",
        )
    ]
    field = workspace.actions[step.action].segment
    for segment, part in sorted(approval.segment_evidence.items()):
        lines.append(
            texts.EVIDENCE_SEGMENT_LINE.format(
                field=field or "segment",
                segment=segment,
                effect=in_metric(part["effect"], workspace, outcome.metric),
                low=f"{part['low']:+.2f}",
                high=f"{part['high']:+.2f}",
                runs=int(part["runs"]),
                word="run" if int(part["runs"]) == 1 else "runs",
            )
        )
    return lines


def evidence_rows(pooled: Sequence[Evidence]) -> list[str]:
    """The workspace's evidence library, one line per action, parameters and metric, most
    favourable first within a metric, each segment's line under the whole audience's."""
    whole = {(e.key.action, e.key.params, e.key.metric): e.effect for e in pooled}

    def place(e: Evidence) -> tuple[str, float, str, str, str]:
        group = whole.get((e.key.action, e.key.params, e.key.metric), e.effect)
        return (e.key.metric, group, e.key.action, e.key.params, e.key.segment)

    return [_evidence_row(e) for e in sorted(pooled, key=place)]


def _evidence_row(e: Evidence) -> str:
    return texts.EVIDENCE_ROW.format(
        action=e.key.action,
        params=f" {e.key.params}" if e.key.params else "",
        segment=texts.EVIDENCE_IN_SEGMENT.format(segment=e.key.segment) if e.key.segment else "",
        metric=e.key.metric,
        effect=f"{e.effect:+.2f}",
        low=f"{e.low:+.2f}",
        high=f"{e.high:+.2f}",
        runs=e.runs,
        word="run" if e.runs == 1 else "runs",
        treated=e.treated,
        control=e.control,
    )


def worked(steps: Sequence[Step], outcome: Outcome, workspace: Workspace) -> list[str]:
    """The digest's "what worked": measured effects with their intervals first, then the
    before-and-after of acting steps without a control group, labelled as such."""
    found = []
    for step in steps:
        effect = step.incremental
        if effect is not None and effect.on_metric is not None:
            found.append(
                f"{step.id} {step.action} {in_metric(effect.on_metric, workspace, outcome.metric)}"
                f" (95% CI {effect.metric_low:+.2f} to {effect.metric_high:+.2f})"
            )
        elif step.effect is not None and step.lane not in (Lane.LOGIC, Lane.INTELLIGENCE):
            found.append(f"{step.id} {step.action} {step.effect:+.2f}{texts.STEP_NOT_CAUSAL}")
    return found
