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

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from orchestrator.catalog import Metric, Workspace
from orchestrator.llm import prompts
from orchestrator.llm.gate import Caller, ModelGate
from orchestrator.models import Direction
from orchestrator.parser import Change, Draft

MAX_HORIZON = timedelta(days=5 * 366)
TOOL = "outcome_draft"


class OutcomeReading(BaseModel):
    """What the model read in a statement; `None` where the statement does not say."""

    metric: str | None = Field(None, description="one of the workspace's metric names")
    direction: Literal["decrease", "increase"] | None = None
    change: Literal["to", "relative", "points"] | None = None
    amount: float | None = Field(None, description="the number for `change`")
    deadline: date | None = Field(None, description="ISO date")


def reading_tool() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": TOOL,
            "description": "The outcome the statement describes.",
            "parameters": OutcomeReading.model_json_schema(),
        },
    }


class LlmInterpreter:
    """An `Interpreter` backed by a chat model; without an answer the draft is unchanged."""

    def __init__(self, gate: ModelGate) -> None:
        self.gate = gate

    async def interpret(
        self, *, text: str, draft: Draft, workspace: Workspace, now: datetime
    ) -> Draft:
        """`draft` with the gaps the model could fill, after validation."""
        metrics = {
            n: f"{m.description} ({m.unit}, better: {m.direction})"
            for n, m in workspace.metrics.items()
        }
        messages = [
            SystemMessage(prompts.INTERPRETER),
            HumanMessage(
                f"Today is {now.date().isoformat()}. Metrics: {json.dumps(metrics)}\n"
                f"Statement:\n{prompts.as_data(text)}"
            ),
        ]
        # Intake happens before an outcome exists: the workspace pays, nobody is notified.
        reply = await self.gate.ask(
            messages, caller=Caller(workspace.name), tools=[reading_tool()], tool_choice=TOOL
        )
        calls = [c for c in (reply.tool_calls if reply else []) if c["name"] == TOOL]
        try:
            reading = OutcomeReading.model_validate(calls[0]["args"]) if calls else None
        except ValidationError:
            reading = None
        return merge(draft, checked(reading, workspace, now)) if reading else draft


def checked(reading: OutcomeReading, workspace: Workspace, now: datetime) -> dict[str, Any]:
    """The fields of `reading` that survive validation against the workspace."""
    found: dict[str, Any] = {}
    metric = workspace.metrics.get(reading.metric or "")
    if metric is not None:
        found["metric"] = reading.metric
    if reading.direction is not None and (metric is None or reading.direction == metric.direction):
        found["direction"] = Direction(reading.direction)
    amount, change = reading.amount, reading.change
    if amount is not None and change is not None and _sane(amount, change, metric):
        found["change"], found["amount"] = Change(change), amount
    if reading.deadline is not None:
        deadline = datetime.combine(reading.deadline, time(23, 59), tzinfo=UTC)
        if now < deadline <= now + MAX_HORIZON:
            found["deadline"] = deadline
            found["deadline_phrase"] = reading.deadline.isoformat()
    return found


def _sane(amount: float, change: str, metric: Metric | None) -> bool:
    if not math.isfinite(amount) or amount < 0:
        return False
    if change == "relative":
        return 0 < amount <= 100 or (metric is not None and metric.direction == "increase")
    if metric is not None and metric.unit == "percent":
        return amount <= 100
    return True


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
