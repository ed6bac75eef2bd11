"""A scripted model that plays the demo story's planner and drafter."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from orchestrator.llm.prompts import DATA_CLOSE, DATA_OPEN
from tests.llm.scripted import reply, tool_call

DRAFT = (
    "Subject: Your Northwind reports are waiting\n"
    "Hi, it has been a while. Reports now take two minutes to set up; reply and your "
    "account manager will book a 15-minute call."
)
PLANS: list[list[tuple[str, dict[str, Any]]]] = [
    [("find_at_risk", {}), ("draft_winback", {}), ("send_winback", {})],
    [("find_at_risk", {}), ("tell_account_managers", {})],
    [("find_at_risk", {}), ("offer_discount", {"percent": 20})],
    [("find_at_risk", {}), ("offer_discount", {"percent": 10})],
]


def data_of(message: BaseMessage) -> Any:
    text = str(message.content)
    start = text.index(DATA_OPEN) + len(DATA_OPEN)
    return json.loads(text[start : text.index(DATA_CLOSE)])


class StoryTeller:
    """Plans the plays in turn, skipping what a person rejected; drafts one message."""

    def __init__(self) -> None:
        self.plans = 0
        self.reasons: list[str] = []

    def __call__(self, messages: list[BaseMessage], bound: dict[str, Any]) -> AIMessage:
        if not bound.get("tools"):
            return reply(content=DRAFT)
        history = data_of(messages[1])
        rejected = [(h["action"], h["params"]) for h in history if h["status"] == "rejected"]
        self.reasons = [h.get("rejected_because", "") for h in history if "rejected_because" in h]
        while True:
            plan = PLANS[self.plans % len(PLANS)]
            self.plans += 1
            if not any(step in rejected for step in plan):
                return reply(*(tool_call(name, params) for name, params in plan))
