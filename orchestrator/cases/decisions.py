"""The cases' part that involves people: a step needs a decision only when its playbook
condition holds; that step becomes a `Step` with an `Approval`, decided like any other."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestrator.cases.catalog import Condition
from orchestrator.errors import TransitionRefused
from orchestrator.models import Case, CaseStatus, Lane, Outcome, Step, StepStatus
from orchestrator.runtime.context import Context
from orchestrator.runtime.queue import Delivery
from orchestrator.steps import govern as step_ops
from orchestrator.steps.policy import Decision, applies
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.workspace.catalog import Action, Rule

_ANY_ACTION = Action(lane=Lane.JUDGMENT, description="a case condition")
"""A rule with only a parameter condition matches whatever the action."""


def holds(condition: Condition, data: dict[str, Any]) -> bool:
    """The playbook condition, tested by policy's own rule matching."""
    rule = Rule(
        name="approve_when",
        decide="approve",
        param=condition.field,
        op=condition.op,
        value=condition.value,
    )
    probe = Step(
        id="-", outcome_id="-", workspace="-", action="-", lane=Lane.LOGIC,
        params=data, created_at=datetime.min,
    )  # fmt: skip
    return applies(rule, probe, _ANY_ACTION)


def began_at(value: Any, now: datetime) -> datetime:
    """The case's own time when its source gives a usable one (never in the future)."""
    try:
        moment = datetime.fromisoformat(str(value)) if value not in (None, "") else now
    except ValueError:
        return now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return min(moment, now)


async def ask(
    ctx: Context,
    case: Case,
    outcome: Outcome,
    probe: Step,
    when: Condition,
    work: Delivery | None,
) -> None:
    """Make the step a `Step` record awaiting a person's decision (`work`: the case job)."""
    now = ctx.clock.now()
    why = f"case {case.id}: {when.field} {when.op} {when.value}"
    step = probe.model_copy(
        update={
            "id": await ctx.store.next_id("s", outcome.workspace),
            "status": StepStatus.PLANNED,
            "rationale": why,
            "expected_impact": "the case is done within its SLA",
        }
    )
    commit = transitions.record(
        Commit(), ctx.keys, None, step, actor="agent", at=now,
        action="step.planned", detail={"case": case.id},
    )  # fmt: skip
    commit.op("RPUSH", ctx.keys.steps_of(outcome.id), step.id)
    states = list(case.steps)
    states[case.position] = states[case.position].model_copy(
        update={"status": "awaiting_approval", "step_id": step.id, "decision": why}
    )
    waiting = case.model_copy(
        update={"status": CaseStatus.AWAITING_APPROVAL, "steps": tuple(states)}
    )
    transitions.record(
        commit, ctx.keys, case, waiting, actor="policy", at=now,
        action="case.awaiting_approval", detail={"step": step.id, "why": why},
    )  # fmt: skip
    try:
        await ctx.store.apply(commit, fenced_by=work)
    except TransitionRefused:
        return
    await govern_step(ctx, case, outcome, step, why, work)


async def govern_step(
    ctx: Context, case: Case, outcome: Outcome, step: Step, why: str, work: Delivery | None
) -> None:
    commit = Commit()
    decision = Decision("approve", "approve_when", why)
    step_ops.ask_in(ctx, outcome, step, decision, {"rows": [case.data]}, commit)
    try:
        await ctx.store.apply(commit, fenced_by=work)
    except TransitionRefused:
        return  # governed by another run already
