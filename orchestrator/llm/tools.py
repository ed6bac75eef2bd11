"""The action catalog as tools with JSON schemas: what the model may call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.catalog import Action, Parameter

LLM_PLAY = "llm"
"""The `play` of steps the model proposed."""


def parameter_schema(parameter: Parameter) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": parameter.type}
    if parameter.minimum is not None:
        schema["minimum"] = parameter.minimum
    if parameter.maximum is not None:
        schema["maximum"] = parameter.maximum
    if parameter.description:
        schema["description"] = parameter.description
    return schema


def action_tool(
    name: str, action: Action, facts: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One action as an OpenAI-format tool: `params` per its schema, plus why and what for.

    `facts` are what the planner knows about this action now (its cost in money, whether
    policy asks a person); they go into the description the model reads."""
    known = {
        "lane": action.lane.value,
        "risk": action.risk,
        "reaches customers": "yes" if action.reaches_customers else "no",
        **(facts or {}),
    }
    if action.expected_impact:
        known["typical impact"] = action.expected_impact
    params = {
        "type": "object",
        "properties": {k: parameter_schema(p) for k, p in action.parameters.items()},
        "required": list(action.parameters),
        "additionalProperties": False,
    }
    described = "; ".join(f"{k}: {v}" for k, v in known.items())
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{action.description} ({described})",
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
