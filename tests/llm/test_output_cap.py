"""`BATON_LLM_MAX_OUTPUT_TOKENS` reaches every provider's request, in its own wire format,
through the process's own wiring (settings, then the lane the composition root builds)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from pydantic import ValidationError

from bot.bootstrap import intelligence
from config.settings import Settings
from orchestrator.llm.planner import LlmPlanner
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness
from tests.llm.anthropic_server import AnthropicDouble, message
from tests.llm.conftest import plan_input
from tests.llm.ollama_server import OllamaDouble, chat_answer
from tests.llm.openai_server import OpenAiDouble, Scripted, completion

CALLS = {"rationale": "r", "expected_impact": "e"}


def openai_double() -> tuple[OpenAiDouble, str, Callable[[dict[str, Any]], object]]:
    pytest.importorskip("langchain_openai")
    double = OpenAiDouble()
    call = {"name": "find_at_risk", "arguments": json.dumps(CALLS)}
    double.script = [Scripted(body=completion(tool_calls=[call]))]
    return double, "openai:gpt-4o-mini", openai_cap


def openai_cap(sent: dict[str, Any]) -> object:
    return sent.get("max_completion_tokens", sent.get("max_tokens"))


def anthropic_double() -> tuple[AnthropicDouble, str, Callable[[dict[str, Any]], object]]:
    pytest.importorskip("langchain_anthropic")
    double = AnthropicDouble()
    double.script = [message(tool_uses=[("find_at_risk", CALLS)])]
    return double, "anthropic:claude-3-5-haiku-latest", lambda s: s["max_tokens"]


def ollama_double() -> tuple[OllamaDouble, str, Callable[[dict[str, Any]], object]]:
    pytest.importorskip("langchain_ollama")
    double = OllamaDouble()
    double.script = [chat_answer(tool_calls=[{"name": "find_at_risk", "arguments": CALLS}])]
    return double, "ollama:llama3.1", lambda s: s["options"]["num_predict"]


@pytest.mark.parametrize("make", [openai_double, anthropic_double, ollama_double])
async def test_the_setting_caps_every_providers_reply(
    plain: Harness,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], tuple[Any, str, Callable[[dict[str, Any]], object]]],
) -> None:
    double, model, cap_of = make()
    serving: Callable[[], AbstractAsyncContextManager[str]] = double.serving
    async with serving() as url:
        monkeypatch.setenv("BATON_LLM", model)
        monkeypatch.setenv("BATON_LLM_BASE_URL", url)
        monkeypatch.setenv("BATON_LLM_MAX_OUTPUT_TOKENS", "333")
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
        planner = intelligence(Settings(), plain.runtime.ctx)["planner"]
        assert isinstance(planner, LlmPlanner)
        proposals = await planner.propose(plan_input(workspace))
    assert [p.action for p in proposals] == ["find_at_risk"]
    assert cap_of(double.requests[0]) == 333


def test_the_default_cap_and_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATON_LLM_MAX_OUTPUT_TOKENS", raising=False)
    assert Settings().llm_max_output_tokens == 2_048
    monkeypatch.setenv("BATON_LLM_MAX_OUTPUT_TOKENS", "0")
    with pytest.raises(ValidationError):
        Settings()
