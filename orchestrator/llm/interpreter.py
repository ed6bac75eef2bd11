"""LlmInterpreter: free-form outcome statements to a draft, with structured output.

The model fills a pydantic schema through a forced tool call. Its answer is checked
against the workspace (the metric exists, numbers are sane, the direction matches the
metric) and only fills what the parser left unsettled: the parser's fields win.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from orchestrator.llm import prompts
from orchestrator.llm.errors import ModelNotUsed, UnderstandingUnavailable
from orchestrator.llm.gate import Caller, ModelGate
from orchestrator.models import Direction
from orchestrator.outcomes.parser import Change, Draft
from orchestrator.runtime.queue import Delivery
from orchestrator.workspace.catalog import Metric, Workspace

MAX_HORIZON = timedelta(days=5 * 366)
MAX_RELATIVE_RISE = 1_000.0
"""The largest relative rise a reading may mean (tenfold and more reads as a mistake)."""
MAX_VALUE = 1e9
"""The largest target or step in a metric's own units a reading may mean, until metrics
declare their own bounds."""
TOOL = "outcome_draft"


DIRECTIONS = ["decrease", "increase"]
CHANGES = ["to", "relative", "points"]


class OutcomeReading(BaseModel):
    """What the model read in a statement; `None` where the statement does not say."""

    metric: str | None = Field(None, description="one of the workspace's metric names")
    direction: Literal["decrease", "increase"] | None = None
    change: Literal["to", "relative", "points"] | None = None
    amount: float | None = Field(None, description="the number for `change`")
    deadline: date | None = Field(None, description="ISO date")


def reading_tool() -> dict[str, Any]:
    """The reading as a tool. Written out rather than derived from `OutcomeReading`:
    pydantic says "may be null" with `anyOf`, which Ollama's client drops with the type;
    a list of types survives every provider."""

    def nullable(kind: str, description: str, enum: list[str] | None = None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [kind, "null"], "description": description}
        if enum is not None:
            schema["enum"] = [*enum, None]
        return schema

    return {
        "type": "function",
        "function": {
            "name": TOOL,
            "description": "The outcome the statement describes.",
            "parameters": {
                "type": "object",
                "properties": {
                    "metric": nullable("string", "one of the workspace's metric names"),
                    "direction": nullable("string", "which way it should move", DIRECTIONS),
                    "change": nullable("string", "how the number is meant", CHANGES),
                    "amount": nullable("number", "the number for `change`"),
                    "deadline": nullable("string", "a calendar date, YYYY-MM-DD"),
                },
                "required": ["metric", "direction", "change", "amount", "deadline"],
            },
        },
    }


class LlmInterpreter:
    """An `Interpreter` backed by a chat model; without an answer the draft is unchanged.

    With `explain_outage`, a model that is down or over budget raises
    `UnderstandingUnavailable` instead, so that intake can tell the owner why it
    understood nothing (intake must catch it before this is turned on)."""

    def __init__(self, gate: ModelGate, *, explain_outage: bool = False) -> None:
        self.gate = gate
        self.explain_outage = explain_outage

    async def interpret(
        self,
        *,
        text: str,
        draft: Draft,
        workspace: Workspace,
        now: datetime,
        work: Delivery | None = None,
    ) -> Draft:
        """`draft` with the gaps the model could fill, after validation (the call's audit
        records fenced by `work`, the intake job, when given)."""
        # Intake happens before an outcome exists: the workspace pays, nobody is notified.
        try:
            answer = await self.gate.answer(
                messages_for(text, workspace, now),
                caller=Caller(workspace.name, work=work),
                tools=[reading_tool()],
                tool_choice=TOOL,
                purpose="understand",
            )
        except ModelNotUsed as down:
            if self.explain_outage:
                raise UnderstandingUnavailable(down.kind, down.why) from down
            return draft
        reading = reading_in(answer.message)
        if reading is None:
            return draft
        return merge(draft, checked(reading, workspace, now, settled_metric=draft.metric))


def reading_in(reply: AIMessage) -> OutcomeReading | None:
    """The reading in the tool call, or in the text when the provider ignored the forced
    tool choice (Ollama) and the model answered with the JSON object instead."""
    calls = [c["args"] for c in reply.tool_calls if c["name"] == TOOL]
    if not calls:
        try:
            calls = [json.loads(str(reply.content))]
        except ValueError:
            return None
    try:
        return OutcomeReading.model_validate(calls[0])
    except ValidationError:
        return None


def messages_for(text: str, workspace: Workspace, now: datetime) -> list[BaseMessage]:
    """The intake prompt: the metrics as instruction, the statement as delimited data."""
    metrics = {
        n: f"{m.description} ({m.unit}, better: {m.direction})"
        for n, m in workspace.metrics.items()
        if not m.cases  # derived from cases: only a standing outcome measures it
    }
    return [
        SystemMessage(prompts.INTERPRETER),
        HumanMessage(
            f"Today is {now.date().isoformat()}. Metrics: {json.dumps(metrics)}\n"
            f"Statement:\n{prompts.as_data(text)}"
        ),
    ]


def checked(
    reading: OutcomeReading, workspace: Workspace, now: datetime, settled_metric: str | None = None
) -> dict[str, Any]:
    """The fields of `reading` that survive validation against the workspace.

    Its direction and numbers are checked against the metric they will go with: the one
    the parser settled, else the one the model names. When the model names a metric it
    invented, or one other than the settled one, or none with none settled, they are
    about nothing the owner can measure and are dropped with it."""
    found: dict[str, Any] = {}
    named = workspace.metrics.get(reading.metric or "")
    if named is not None:
        found["metric"] = reading.metric
    metric = _metric_for(reading, workspace, settled_metric)
    if metric is not None:
        found.update(_numbers(reading, metric))
    if reading.deadline is not None:
        deadline = datetime.combine(reading.deadline, time(23, 59), tzinfo=UTC)
        if now < deadline <= now + MAX_HORIZON:
            found["deadline"] = deadline
            found["deadline_phrase"] = reading.deadline.isoformat()
    return found


def _metric_for(
    reading: OutcomeReading, workspace: Workspace, settled: str | None
) -> Metric | None:
    if reading.metric is None:
        return workspace.metrics.get(settled or "")
    if reading.metric not in workspace.metrics or settled not in (None, reading.metric):
        return None
    return workspace.metrics[reading.metric]


def _numbers(reading: OutcomeReading, metric: Metric) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if reading.direction is not None and reading.direction == metric.direction:
        found["direction"] = Direction(reading.direction)
    amount, change = reading.amount, reading.change
    if amount is not None and change is not None and sane(amount, change, metric):
        found["change"], found["amount"] = Change(change), amount
    return found


def sane(amount: float, change: str, metric: Metric) -> bool:
    """Whether a reading's number is one an owner could mean for `metric`: a percent
    stays within 0-100, nothing is negative, a relative fall is at most 100% and a rise
    at most `MAX_RELATIVE_RISE`, and no value or step is beyond `MAX_VALUE`."""
    if not math.isfinite(amount) or amount < 0:
        return False
    if change == "relative":
        limit = 100.0 if metric.direction == "decrease" else MAX_RELATIVE_RISE
        return 0 < amount <= limit
    if metric.unit == "percent":
        return amount <= 100
    return amount <= MAX_VALUE


def merge(draft: Draft, found: dict[str, Any]) -> Draft:
    """Fill only what the parser left unsettled; numbers travel as a pair."""
    update = {k: v for k, v in found.items() if getattr(draft, k) in (None, "")}
    if draft.amount is not None or draft.change is not None:
        update.pop("amount", None)
        update.pop("change", None)
    if "metric" in update:
        update["metric_candidates"] = ()
    if "deadline" in update:
        update["deadline_invalid"] = False
    return draft.model_copy(update=update) if update else draft
