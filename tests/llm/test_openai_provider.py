"""The OpenAI provider (langchain-openai) against a local OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from orchestrator.llm.interpreter import TOOL
from orchestrator.llm.lane import IntelligenceLane
from orchestrator.llm.model import ModelSettings, build_chat_model
from orchestrator.llm.offer import offered
from orchestrator.outcomes.parser import parse
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START, Harness
from tests.llm.conftest import Sleeps, lane_for, plan_input
from tests.llm.openai_server import OpenAiDouble, Scripted, completion

pytest.importorskip("langchain_openai")


@pytest.fixture
async def server() -> AsyncIterator[tuple[OpenAiDouble, str]]:
    double = OpenAiDouble()
    async with double.serving() as url:
        yield double, url


def lane(harness: Harness, url: str, sleeps: Sleeps, timeout_s: float = 5.0) -> IntelligenceLane:
    model = build_chat_model(
        ModelSettings("openai:gpt-4o-mini", base_url=url, timeout_s=timeout_s, api_key="test")
    )
    return lane_for(harness, model, sleeps=sleeps)


def call(name: str, arguments: object) -> dict[str, str]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"name": name, "arguments": text}


async def test_tool_calls_become_proposals(
    plain: Harness, workspace: Workspace, server: tuple[OpenAiDouble, str]
) -> None:
    double, url = server
    args = {"params": {"percent": 10}, "rationale": "r", "expected_impact": "e"}
    double.script = [
        Scripted(
            body=completion(
                tool_calls=[
                    call("find_at_risk", {"params": {}, "rationale": "r", "expected_impact": "e"}),
                    call("offer_discount", args),
                ]
            )
        )
    ]
    built = lane(plain, url, Sleeps())
    proposals = await built.planner.propose(plan_input(workspace))
    assert [(p.action, p.params) for p in proposals] == [
        ("find_at_risk", {}),
        ("offer_discount", {"percent": 10}),
    ]
    sent = double.requests[0]
    assert sent["model"] == "gpt-4o-mini"
    assert {t["function"]["name"] for t in sent["tools"]} == set(offered(workspace))
    assert (await built.gate.ledger.used_by("o1")).total == 60


async def test_structured_output_fills_the_draft(
    plain: Harness, workspace: Workspace, server: tuple[OpenAiDouble, str]
) -> None:
    double, url = server
    reading = {
        "metric": "open_tickets",
        "direction": "decrease",
        "change": "to",
        "amount": 40,
        "deadline": "2027-02-28",
    }
    double.script = [Scripted(body=completion(tool_calls=[call(TOOL, reading)]))]
    text = "Get the support queue under control"
    draft = await lane(plain, url, Sleeps()).interpreter.interpret(
        text=text, draft=parse(text, workspace, START), workspace=workspace, now=START
    )
    assert (draft.metric, draft.amount, draft.deadline is not None) == ("open_tickets", 40.0, True)
    assert double.requests[0]["tool_choice"]["function"]["name"] == TOOL


async def test_malformed_json_is_retried_then_the_playbook_plans(
    plain: Harness, workspace: Workspace, server: tuple[OpenAiDouble, str]
) -> None:
    double, url = server
    broken = completion(tool_calls=[call("offer_discount", '{"params": {"percent": 1')])
    double.script = [Scripted(body=broken), Scripted(body=broken)]
    proposals = await lane(plain, url, Sleeps()).planner.propose(plan_input(workspace))
    assert proposals[0].play == "win_back"
    assert "not valid JSON" in double.requests[1]["messages"][-1]["content"]


async def test_429_is_retried_after_retry_after(
    plain: Harness, workspace: Workspace, server: tuple[OpenAiDouble, str]
) -> None:
    double, url = server
    limited = Scripted(
        status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "4"}
    )
    ok = completion(
        tool_calls=[call("find_at_risk", {"params": {}, "rationale": "r", "expected_impact": "e"})]
    )
    double.script = [limited, Scripted(status=500, body={"error": {}}), Scripted(body=ok)]
    sleeps = Sleeps()
    proposals = await lane(plain, url, sleeps).planner.propose(plan_input(workspace))
    assert proposals[0].play == "llm"
    retry_after, backoff = sleeps.waits
    assert retry_after == 4.0 and 1.0 <= backoff <= 1.5  # doubled, plus jitter
    assert len(double.requests) == 3  # the client itself retried nothing


async def test_a_hung_response_times_out_and_falls_back(
    plain: Harness, workspace: Workspace, server: tuple[OpenAiDouble, str]
) -> None:
    double, url = server
    double.script = [Scripted(hang=True) for _ in range(3)]
    sleeps = Sleeps()
    proposals = await lane(plain, url, sleeps, timeout_s=0.2).planner.propose(plan_input(workspace))
    assert proposals[0].play == "win_back"
    first, second = sleeps.waits
    assert len(double.requests) == 3 and 0.5 <= first <= 1.0 and 1.0 <= second <= 1.5
    await plain.runtime.drain()
    assert any("llm_unavailable" in t for t in plain.gateway.titles())
