"""What a step of an action would reach, cost and need, before it exists.

The audience is only known once the step before it runs; the last one seen is the best
guess, and 0 (the lower bound) when there is none. Policy checks the real figures again
when the step is governed and when it executes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orchestrator.models import Step
from orchestrator.steps.govern import cost_of
from orchestrator.steps.policy import Decision, govern
from orchestrator.workspace.catalog import Action, Rule, Workspace

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Estimate:
    """One use of an action as policy would see it with the audience guessed."""

    audience: int
    cost: float
    decision: Decision


def audience_of(action: str, feeder: str | None, history: Sequence[Step]) -> int:
    """The audience this action last reached, else the rows its feeder last found, else 0."""
    for step in reversed(history):
        if step.action == action and step.audience:
            return step.audience
    for step in reversed(history):
        rows = step.output.get("rows")
        if feeder is not None and step.action == feeder and isinstance(rows, list):
            return len(rows)
    return 0


def estimate(
    name: str,
    action: Action,
    params: Mapping[str, Any],
    *,
    audience: int,
    workspace: Workspace,
    rules: Sequence[Rule],
) -> Estimate:
    """Cost and policy's word for a step of `name` with `params` reaching `audience`.

    Raises `BatonError` when the cost cannot be computed (for example, bad parameters).
    Budget and the daily rate cap are left out: the caller weighs the budget across a
    whole plan, and the rate cap is about when, not what."""
    probe = Step(
        id="s0",
        outcome_id="",
        workspace="",
        action=name,
        lane=action.lane,
        params=dict(params),
        audience=audience,
        created_at=_EPOCH,
    )
    cost = cost_of(action, probe, audience)
    decision = govern(
        probe.model_copy(update={"cost": cost}),
        action,
        workspace.policy,
        extra_rules=rules,
        remaining_budget=math.inf,
        steps_today=0,
    )
    return Estimate(audience, cost, decision)


def money(amount: float, workspace: Workspace) -> str:
    return f"{workspace.currency} {amount:,.2f}"
