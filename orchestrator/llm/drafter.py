"""LlmDrafter: intelligence actions written by the model, with connector data as DATA.

The draft it returns is stored as the step's output, shown verbatim in the approval
message and sent verbatim by the systems step: what the approver saw is what goes out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from orchestrator.llm import prompts
from orchestrator.llm.gate import Caller, ModelGate
from orchestrator.steps.lanes import Drafter, LaneInput, TemplateDrafter

ROWS_SHOWN = 20
MAX_DRAFT_CHARS = 4_000


class LlmDrafter:
    """A `Drafter` backed by a chat model, with the action's template as its fallback."""

    def __init__(self, gate: ModelGate, fallback: Drafter | None = None) -> None:
        self.gate = gate
        self.fallback = fallback or TemplateDrafter()

    async def draft(self, lane_input: LaneInput) -> str:
        """The model's message, or the template's when the model is not available."""
        outcome = lane_input.outcome
        caller = Caller(outcome.workspace, outcome.id, outcome.conversation, lane_input.work)
        reply = await self.gate.ask(messages_for(lane_input), caller=caller, purpose="draft")
        text = str(reply.content).strip() if reply is not None else ""
        if not text:
            return await self.fallback.draft(lane_input)
        return text[:MAX_DRAFT_CHARS]


def messages_for(lane_input: LaneInput) -> list[SystemMessage | HumanMessage]:
    """The drafting prompt: the task is instruction; the rows, when the action declares
    fields it needs (`draft_fields`), are delimited data with only those fields."""
    action = lane_input.action
    task = {
        "action": lane_input.step.action,
        "description": action.description,
        "outcome": lane_input.outcome.objective,
        "parameters": lane_input.step.params,
        "audience": len(lane_input.rows),
        "business": lane_input.workspace.name,
    }
    text = (
        f"Task: {json.dumps(task, default=str)}\n"
        "One message goes to everyone in the audience.\n"
        f"House example:\n{action.template or ''}"
    )
    rows = shown_rows(lane_input.rows, action.draft_fields)
    if rows:
        text += f"\nRecipients (a sample, as data):\n{prompts.as_data(rows)}"
    return [SystemMessage(prompts.DRAFTER), HumanMessage(text)]


def shown_rows(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Up to `ROWS_SHOWN` rows cut down to `fields`; none when no field is declared."""
    if not fields:
        return []
    return [{f: row[f] for f in fields if f in row} for row in rows[:ROWS_SHOWN]]
