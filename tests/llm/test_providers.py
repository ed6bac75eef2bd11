"""What each provider is sent, in its own wire format: full tool schemas, an output cap,
and a usage estimate that counts what was sent when the answer reports none."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from orchestrator.llm.gate import Caller, sent_chars
from orchestrator.llm.interpreter import TOOL, reading_tool
from orchestrator.llm.model import ModelSettings, build_chat_model
from orchestrator.llm.offer import plan_tools
from orchestrator.llm.usage import usage_from
from orchestrator.outcomes.parser import parse
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START, Harness
from tests.llm.anthropic_server import AnthropicDouble, message
from tests.llm.conftest import Sleeps, lane_for, plan_input
from tests.llm.ollama_server import OllamaDouble, chat_answer
from tests.llm.openai_server import OpenAiDouble, Scripted, completion

pytest.importorskip("langchain_ollama")
pytest.importorskip("langchain_openai")


@pytest.fixture
async def ollama() -> AsyncIterator[tuple[OllamaDouble, str]]:
    double = OllamaDouble()
    async with double.serving() as url:
        yield double, url


def ollama_model(url: str) -> BaseChatModel:
    return build_chat_model(
        ModelSettings("ollama:llama3.1", base_url=url, timeout_s=5, max_output_tokens=900)
    )


async def test_ollama_gets_every_tool_schema_in_full(
    plain: Harness, workspace: Workspace, ollama: tuple[OllamaDouble, str]
) -> None:
    double, url = ollama
    args = {"percent": 10, "rationale": "r", "expected_impact": "e"}
    double.script = [
        chat_answer(
            tool_calls=[
                {"name": "find_at_risk", "arguments": {"rationale": "r", "expected_impact": "e"}},
                {"name": "offer_discount", "arguments": args},
            ]
        )
    ]
    lane = lane_for(plain, ollama_model(url), sleeps=Sleeps())
    proposals = await lane.planner.propose(plan_input(workspace))
    assert [(p.action, p.params) for p in proposals] == [
        ("find_at_risk", {}),
        ("offer_discount", {"percent": 10}),
    ]
    sent = double.requests[0]
    discount = next(t for t in sent["tools"] if t["function"]["name"] == "offer_discount")
    properties = discount["function"]["parameters"]["properties"]
    assert properties["percent"] == {
        "type": "integer",
        "description": "discount in percent; from 1 to 50",
    }
    assert properties["rationale"]["type"] == "string"
    assert sent["options"]["num_predict"] == 900
    assert (await lane.gate.ledger.used_by("o1")).total == 82


async def test_ollama_is_held_to_the_intake_schema_and_its_json_answer_is_read(
    plain: Harness, workspace: Workspace, ollama: tuple[OllamaDouble, str]
) -> None:
    double, url = ollama
    reading = {"metric": "open_tickets", "direction": "decrease", "change": "to", "amount": 40}
    double.script = [chat_answer(content=json.dumps({**reading, "deadline": "2027-02-28"}))]
    lane = lane_for(plain, ollama_model(url), sleeps=Sleeps())
    text = "Get the support queue under control"
    draft = await lane.interpreter.interpret(
        text=text, draft=parse(text, workspace, START), workspace=workspace, now=START
    )
    assert (draft.metric, draft.amount) == ("open_tickets", 40.0)
    # Ollama ignores a forced tool choice: the tool's schema is the required answer format.
    schema = double.requests[0]["format"]
    assert schema == reading_tool()["function"]["parameters"]
    assert schema["properties"]["amount"]["type"] == ["number", "null"]


async def test_openai_requests_carry_an_output_cap(plain: Harness, workspace: Workspace) -> None:
    double = OpenAiDouble()
    double.script = [Scripted(body=completion(content="Subject: hi\nHello"))]
    async with double.serving() as url:
        model = build_chat_model(
            ModelSettings("openai:gpt-4o-mini", base_url=url, api_key="test", max_output_tokens=700)
        )
        lane = lane_for(plain, model, sleeps=Sleeps())
        await lane.gate.answer([HumanMessage("Write it")], caller=Caller("T1"))
    sent = double.requests[0]
    assert sent.get("max_completion_tokens", sent.get("max_tokens")) == 700


def test_the_estimate_counts_the_tool_schemas_sent(workspace: Workspace) -> None:
    tools = plan_tools(plan_input(workspace))
    schemas = len(json.dumps(tools))
    estimated = usage_from(None, sent_chars([], tools), 0)
    assert estimated.input >= schemas // 4


@pytest.fixture
async def anthropic() -> AsyncIterator[tuple[AnthropicDouble, str]]:
    pytest.importorskip("langchain_anthropic")
    double = AnthropicDouble()
    async with double.serving() as url:
        yield double, url


def anthropic_model(url: str) -> BaseChatModel:
    return build_chat_model(
        ModelSettings(
            "anthropic:claude-3-5-haiku-latest",
            base_url=url,
            timeout_s=5,
            api_key="test",
            max_output_tokens=800,
        )
    )


async def test_anthropic_gets_every_tool_schema_and_the_cap(
    plain: Harness, workspace: Workspace, anthropic: tuple[AnthropicDouble, str]
) -> None:
    double, url = anthropic
    double.script = [
        message(
            tool_uses=[
                ("find_at_risk", {"rationale": "r", "expected_impact": "e"}),
                ("offer_discount", {"percent": 10, "rationale": "r", "expected_impact": "e"}),
            ]
        )
    ]
    lane = lane_for(plain, anthropic_model(url), sleeps=Sleeps())
    proposals = await lane.planner.propose(plan_input(workspace))
    assert [(p.action, p.params) for p in proposals] == [
        ("find_at_risk", {}),
        ("offer_discount", {"percent": 10}),
    ]
    sent = double.requests[0]
    discount = next(t for t in sent["tools"] if t["name"] == "offer_discount")
    assert discount["input_schema"]["properties"]["percent"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 50,
        "description": "discount in percent; from 1 to 50",
    }
    assert sent["max_tokens"] == 800
    assert (await lane.gate.ledger.used_by("o1")).total == 95


async def test_anthropic_is_forced_to_the_intake_tool(
    plain: Harness, workspace: Workspace, anthropic: tuple[AnthropicDouble, str]
) -> None:
    double, url = anthropic
    reading = {"metric": "open_tickets", "direction": "decrease", "change": "to", "amount": 40}
    double.script = [message(tool_uses=[(TOOL, {**reading, "deadline": "2027-02-28"})])]
    lane = lane_for(plain, anthropic_model(url), sleeps=Sleeps())
    text = "Get the support queue under control"
    draft = await lane.interpreter.interpret(
        text=text, draft=parse(text, workspace, START), workspace=workspace, now=START
    )
    assert (draft.metric, draft.amount) == ("open_tickets", 40.0)
    sent = double.requests[0]
    assert sent["tool_choice"] == {"type": "tool", "name": TOOL}
    assert sent["tools"][0]["input_schema"]["properties"]["amount"]["type"] == ["number", "null"]
