"""The action catalog as tools with JSON schemas: what the model may call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.workspace.catalog import Action, Parameter

LLM_PLAY = "llm"
"""The `play` of steps the model proposed."""


WHY = "rationale"
EXPECTED = "expected_impact"
RESERVED = frozenset({WHY, EXPECTED})
"""Argument names every tool takes besides the action's own parameters (the workspace
file may not name a parameter so: `catalog.RESERVED_PARAMETERS`)."""


def parameter_schema(parameter: Parameter) -> dict[str, Any]:
    """A parameter's JSON schema; its bounds are also said in words, since some providers
    (Ollama) carry only type, description and enum."""
    schema: dict[str, Any] = {"type": parameter.type}
    if parameter.minimum is not None:
        schema["minimum"] = parameter.minimum
    if parameter.maximum is not None:
        schema["maximum"] = parameter.maximum
    words = [parameter.description, _bounds(parameter)]
    described = "; ".join(w for w in words if w)
    if described:
        schema["description"] = described
    return schema


def _bounds(parameter: Parameter) -> str:
    low, high = parameter.minimum, parameter.maximum
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    if low is not None:
        return f"at least {low:g}"
    return f"at most {high:g}" if high is not None else ""


def action_tool(
    name: str, action: Action, facts: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One action as an OpenAI-format tool: its parameters, plus why and what for.

    The schema is flat (one level of typed properties) so that every provider carries
    all of it: Ollama's client keeps no nested object's properties. `facts` are what the
    planner knows about this action now (its cost in money, whether policy asks a
    person); they go into the description the model reads."""
    known = {
        "lane": action.lane.value,
        "risk": action.risk,
        "reaches customers": "yes" if action.reaches_customers else "no",
        **(facts or {}),
    }
    if action.expected_impact:
        known["typical impact"] = action.expected_impact
    properties = {k: parameter_schema(p) for k, p in action.parameters.items() if k not in RESERVED}
    properties[WHY] = {"type": "string", "description": "why this step, now"}
    properties[EXPECTED] = {"type": "string", "description": "effect on the metric"}
    described = "; ".join(f"{k}: {v}" for k, v in known.items())
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{action.description} ({described})",
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


def params_of(args: Mapping[str, Any]) -> dict[str, Any] | None:
    """The action's parameters in a call's arguments: the flat ones, or a `params` object
    when a model nests them anyway; `None` when `params` is there but not an object."""
    if "params" in args:
        nested = args["params"]
        return dict(nested) if isinstance(nested, dict) else None
    return {k: v for k, v in args.items() if k not in RESERVED}


def catalog_tools(actions: Mapping[str, Action]) -> list[dict[str, Any]]:
    """Every action as a tool, with no planner facts (the planner offers `offer.plan_tools`)."""
    return [action_tool(name, action) for name, action in sorted(actions.items())]
