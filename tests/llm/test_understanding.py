"""The model's reading of a statement, through a real OpenAI client against a local server:
checked against the metric it goes with, invented metrics dropped with their numbers,
absurd numbers refused, and an outage the owner can be told about."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from orchestrator.llm.errors import UnderstandingUnavailable
from orchestrator.llm.interpreter import TOOL, LlmInterpreter, OutcomeReading, checked
from orchestrator.llm.model import ModelSettings, build_chat_model
from orchestrator.outcomes.parser import Change, parse
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START, Harness
from tests.llm.conftest import Sleeps, lane_for
from tests.llm.openai_server import OpenAiDouble, Scripted, completion

pytest.importorskip("langchain_openai")


def reading(**args: Any) -> Scripted:
    body = completion(tool_calls=[{"name": TOOL, "arguments": json.dumps(args)}])
    return Scripted(body=body)


@pytest.fixture
async def double() -> AsyncIterator[tuple[OpenAiDouble, str]]:
    served = OpenAiDouble()
    async with served.serving() as url:
        yield served, url


def interpreting(harness: Harness, url: str) -> LlmInterpreter:
    model = build_chat_model(
        ModelSettings("openai:gpt-4o-mini", base_url=url, timeout_s=5, api_key="test")
    )
    interpreter = lane_for(harness, model, sleeps=Sleeps()).interpreter
    harness.runtime.intake.interpreter = interpreter
    return interpreter


def last_text(harness: Harness) -> str:
    return harness.gateway.sent[-1].current.text()


async def test_a_reading_naming_no_metric_is_checked_against_the_settled_one(
    plain: Harness, double: tuple[OpenAiDouble, str]
) -> None:
    served, url = double
    served.script = [reading(metric=None, direction="increase", change="to", amount=250)]
    interpreting(plain, url)
    await plain.say("olivia", "get churn under control by March")
    text = last_text(plain)
    assert "will not aim" not in text and "250" not in text
    assert "To what value, or by how much?" in text


async def test_an_invented_metric_is_dropped_with_its_numbers(
    plain: Harness, double: tuple[OpenAiDouble, str]
) -> None:
    served, url = double
    served.script = [reading(metric="nps", direction="increase", change="to", amount=50)]
    interpreting(plain, url)
    await plain.say("olivia", "Make our customers happier before the summer")
    await plain.say("olivia", "churn")
    assert "will not aim" not in last_text(plain)
    assert "To what value, or by how much?" in last_text(plain)


@pytest.mark.parametrize(
    ("metric", "change", "amount"),
    [
        ("mrr", "relative", 5000),
        ("mrr", "to", 1e12),
        ("churn_rate", "to", 250),
        ("churn_rate", "points", 120),
        ("churn_rate", "relative", 150),
        ("open_tickets", "to", -5),
    ],
)
def test_absurd_readings_are_refused(
    workspace: Workspace, metric: str, change: str, amount: float
) -> None:
    found = checked(
        OutcomeReading(metric=metric, change=change, amount=amount),
        workspace,
        START,
    )
    assert found == {"metric": metric}


def test_sane_readings_pass(workspace: Workspace) -> None:
    found = checked(
        OutcomeReading(metric="mrr", direction="increase", change="relative", amount=20),
        workspace,
        START,
    )
    assert (found["change"], found["amount"], found["direction"]) == (
        Change.RELATIVE,
        20,
        "increase",
    )


async def test_absurd_reading_over_the_wire_leaves_the_target_to_ask(
    plain: Harness, double: tuple[OpenAiDouble, str]
) -> None:
    served, url = double
    served.script = [reading(metric="mrr", direction="increase", change="relative", amount=5000)]
    interpreting(plain, url)
    await plain.say("olivia", "Grow MRR massively by June")
    assert "To what value, or by how much?" in last_text(plain)


async def test_a_model_down_during_intake_says_why(
    plain: Harness, workspace: Workspace, double: tuple[OpenAiDouble, str]
) -> None:
    served, url = double
    served.script = [Scripted(status=500, body={"error": {"message": "down"}})] * 3
    interpreter = interpreting(plain, url)
    interpreter.explain_outage = True
    text = "Fewer people leaving us"
    with pytest.raises(UnderstandingUnavailable) as raised:
        await interpreter.interpret(
            text=text, draft=parse(text, workspace, START), workspace=workspace, now=START
        )
    assert raised.value.kind == "llm_unavailable"
    assert raised.value.why == "model unavailable after 3 attempt(s): OpenAIAPIError (HTTP 500)"


async def test_the_owner_hears_why_when_the_model_is_down_at_intake(
    plain: Harness, double: tuple[OpenAiDouble, str]
) -> None:
    served, url = double
    served.script = [Scripted(status=500, body={"error": {"message": "down"}})] * 3
    interpreting(plain, url).explain_outage = True
    await plain.say("olivia", "Fewer people leaving us")
    text = last_text(plain)
    assert "I could not find an outcome" in text
    assert "without the language model" in text and "HTTP 500" in text
