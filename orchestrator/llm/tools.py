"""The action catalog as tools with JSON schemas, and validation of what the model calls."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from orchestrator.catalog import Action, Parameter
from orchestrator.errors import BatonError
from orchestrator.models import Lane, Step
from orchestrator.planner import PlanInput, Proposal, signature
from orchestrator.steps import cost_of

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LLM_PLAY = "llm"
"""The `play` of steps the model proposed."""

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
}


def parameter_schema(parameter: Parameter) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": parameter.type}
    if parameter.minimum is not None:
        schema["minimum"] = parameter.minimum
    if parameter.maximum is not None:
        schema["maximum"] = parameter.maximum
    if parameter.description:
        schema["description"] = parameter.description
    return schema


def action_tool(name: str, action: Action) -> dict[str, Any]:
    """One action as an OpenAI-format tool: `params` per its schema, plus why and what for."""
    facts = [
        f"lane: {action.lane.value}",
        f"risk: {action.risk}",
        f"reaches customers: {'yes' if action.reaches_customers else 'no'}",
        f"cost: {action.cost}",
    ]
    if action.expected_impact:
        facts.append(f"typical impact: {action.expected_impact}")
    params = {
        "type": "object",
        "properties": {k: parameter_schema(p) for k, p in action.parameters.items()},
        "required": list(action.parameters),
        "additionalProperties": False,
    }
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{action.description} ({'; '.join(facts)})",
            "parameters": {
                "type": "object",
                "properties": {
                    "params": params,
                    "rationale": {"type": "string", "description": "why this step, now"},
                    "expected_impact": {"type": "string", "description": "effect on the metric"},
                },
                "required": ["params", "rationale", "expected_impact"],
            },
        },
    }


def catalog_tools(actions: Mapping[str, Action]) -> list[dict[str, Any]]:
    return [action_tool(name, action) for name, action in sorted(actions.items())]


class InvalidPlan(BatonError):
    """The model's plan broke a rule; the message is fed back to it once."""


def param_errors(action: Action, params: Mapping[str, Any]) -> list[str]:
    """Differences between `params` and the action's schema (every declared one is required)."""
    errors = [f"unknown parameter {k!r}" for k in params if k not in action.parameters]
    for name, spec in action.parameters.items():
        if name not in params:
            errors.append(f"missing parameter {name!r}")
            continue
        value = params[name]
        if (isinstance(value, bool) and spec.type != "boolean") or not isinstance(
            value, _JSON_TYPES[spec.type]
        ):
            errors.append(f"{name!r} must be {spec.type}, got {value!r}")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            errors += _range_errors(name, spec, float(value))
    return errors


def _range_errors(name: str, spec: Parameter, value: float) -> list[str]:
    if not math.isfinite(value):
        return [f"{name!r} must be finite"]
    if spec.minimum is not None and value < spec.minimum:
        return [f"{name!r} must be at least {spec.minimum:g}"]
    if spec.maximum is not None and value > spec.maximum:
        return [f"{name!r} must be at most {spec.maximum:g}"]
    return []


def proposals_from(
    calls: Sequence[Mapping[str, Any]], plan_input: PlanInput, remaining_budget: float
) -> list[Proposal]:
    """Validated proposals from tool calls, chained in order; raises `InvalidPlan`."""
    if not calls:
        raise InvalidPlan("no steps proposed: call at least one tool")
    rejected, errors, proposals = plan_input.rejected(), [], []
    for i, call in enumerate(calls):
        name, args = str(call.get("name", "")), call.get("args") or {}
        action = plan_input.workspace.actions.get(name)
        if call.get("malformed"):
            errors.append(f"call {i + 1} ({name}): the arguments were not valid JSON")
            continue
        if action is None:
            errors.append(f"call {i + 1}: {name!r} is not an action in the catalog")
            continue
        params = args.get("params") if isinstance(args.get("params"), dict) else None
        if params is None:
            errors.append(f"call {i + 1} ({name}): params must be an object")
            continue
        problems = param_errors(action, params)
        if signature(name, params) in rejected:
            problems.append("a person rejected this action with these parameters")
        problems += _budget_errors(name, action, params, remaining_budget)
        errors += [f"call {i + 1} ({name}): {p}" for p in problems]
        proposals.append(_proposal(name, action, params, args, after=i - 1 if i else None))
    if errors:
        raise InvalidPlan("; ".join(errors))
    return proposals


def _budget_errors(
    name: str, action: Action, params: Mapping[str, Any], remaining: float
) -> list[str]:
    # The audience is unknown until the query runs: this is the lower bound; policy checks
    # the real cost again when the step is governed and when it executes.
    probe = Step(
        id="s0",
        outcome_id="",
        workspace="",
        action=name,
        lane=Lane.LOGIC,
        params=dict(params),
        created_at=_EPOCH,
    )
    try:
        cost = cost_of(action, probe, 0)
    except BatonError as error:
        return [f"cost cannot be computed: {error}"]
    return [f"costs at least {cost:g}, only {remaining:g} left"] if cost > remaining + 1e-9 else []


def _proposal(
    name: str, action: Action, params: Mapping[str, Any], args: Mapping[str, Any], after: int | None
) -> Proposal:
    return Proposal(
        action=name,
        params=dict(params),
        rationale=str(args.get("rationale") or "")[:500],
        expected_impact=str(args.get("expected_impact") or action.expected_impact)[:200],
        play=LLM_PLAY,
        after=after,
    )
