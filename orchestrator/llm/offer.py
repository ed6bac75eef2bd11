"""Which actions the planner is offered, and what it is told about each.

Actions that only case playbooks use (they act on one contract or ticket, with its fields)
cannot move an outcome's metric, so they are not offered. Each offered tool says what a
step of it would cost in money and whether policy lets it run, asks a person or forbids it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.catalog import Action, Workspace
from orchestrator.errors import BatonError
from orchestrator.llm.estimates import Estimate, audience_of, estimate, money
from orchestrator.llm.tools import action_tool
from orchestrator.models import Step
from orchestrator.planner import PlanInput

_VERDICTS = {"auto": "runs without approval", "approve": "a person must approve it"}


def offered(workspace: Workspace) -> list[str]:
    """Action names a plan may use: all but those only case playbooks use."""
    in_plays = {s.action for plays in workspace.playbooks.values() for p in plays for s in p.steps}
    in_cases = {s.action for book in workspace.case_playbooks.values() for s in book.steps}
    return sorted(n for n in workspace.actions if n in in_plays or n not in in_cases)


def plan_tools(plan_input: PlanInput) -> list[dict[str, Any]]:
    """The offered actions as tools, each described with its cost and policy's word."""
    workspace = plan_input.workspace
    return [
        action_tool(name, workspace.actions[name], facts_of(name, plan_input))
        for name in offered(workspace)
    ]


def facts_of(name: str, plan_input: PlanInput) -> dict[str, str]:
    workspace, action = plan_input.workspace, plan_input.workspace.actions[name]
    audience = audience_of(name, None, plan_input.history) or last_rows(plan_input.history)
    seen = _extremes(name, action, audience, workspace, plan_input)
    facts = {"estimated audience": str(audience)} if audience else {}
    if not seen:
        return {**facts, "cost": "depends on its parameters", "policy": "decided per step"}
    costs = sorted({money(e.cost, workspace) for e in seen})
    facts["cost"] = " to ".join(costs) if len(costs) <= 2 else f"{costs[0]} to {costs[-1]}"
    words = {_said(e) for e in seen}
    facts["policy"] = " or ".join(sorted(words))
    return facts


def _said(seen: Estimate) -> str:
    decision = seen.decision
    return _VERDICTS.get(decision.verdict, f"forbidden ({decision.reason})")


def _extremes(
    name: str, action: Action, audience: int, workspace: Workspace, plan_input: PlanInput
) -> list[Estimate]:
    """Estimates at the parameters' minimum and maximum (or with none when it has none)."""
    ends: list[dict[str, Any]] = [{}, {}]
    for key, spec in action.parameters.items():
        if spec.minimum is None or spec.maximum is None:
            return []
        ends[0][key], ends[1][key] = (
            _typed(spec.type, spec.minimum),
            _typed(spec.type, spec.maximum),
        )
    found = []
    for params in ends[: 2 if action.parameters else 1]:
        try:
            found.append(
                estimate(
                    name,
                    action,
                    params,
                    audience=audience,
                    workspace=workspace,
                    rules=(*plan_input.rules,),
                )
            )
        except BatonError:  # a cost template the probe cannot fill: say it depends
            return []
    return found


def _typed(kind: str, value: float) -> float | int:
    return int(value) if kind == "integer" else value


def last_rows(history: Sequence[Step]) -> int:
    """How many rows the latest step that found any found: the likely next audience."""
    for step in reversed(history):
        rows = step.output.get("rows")
        if isinstance(rows, list):
            return len(rows)
    return 0
