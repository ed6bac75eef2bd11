"""Baton wired to a real OpenAI client against a local OpenAI-format server: helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel

from orchestrator.llm.model import ModelSettings, build_chat_model
from tests.llm.openai_server import Scripted, completion

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
DRAFT = "Subject: Come back to Northwind\nHi, reports now take two minutes."
Served = Callable[..., Any]
Plan = list[tuple[str, dict[str, Any]]]


def calls(plan: Plan, rationale: str = "r", *, nested: bool = False) -> Scripted:
    """Tool calls with flat arguments, as the schemas ask; `nested` puts the parameters
    in a `params` object instead (as the schemas asked before, still accepted)."""

    def arguments(params: dict[str, Any]) -> str:
        given: dict[str, Any] = {"params": params} if nested else dict(params)
        return json.dumps({**given, "rationale": rationale, "expected_impact": "e"})

    return Scripted(
        body=completion(
            tool_calls=[{"name": name, "arguments": arguments(params)} for name, params in plan]
        )
    )


def planner_then_drafter(plans: list[Scripted]) -> Callable[[dict[str, Any]], Scripted]:
    """Plans from `plans` in turn (the last one again when they run out); drafts `DRAFT`."""

    def answer(request: dict[str, Any]) -> Scripted:
        if not request.get("tools"):
            return Scripted(body=completion(content=DRAFT))
        return plans.pop(0) if len(plans) > 1 else plans[0]

    return answer


def model_for(url: str) -> BaseChatModel:
    return build_chat_model(
        ModelSettings("openai:gpt-4o-mini", base_url=url, timeout_s=5, api_key="test")
    )
