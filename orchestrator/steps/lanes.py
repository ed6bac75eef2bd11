"""The four lanes: how a step's work is done once it may run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.connectors import Connectors, Work
from orchestrator.errors import BatonError
from orchestrator.models import Lane, Outcome, Step
from orchestrator.runtime.queue import Delivery
from orchestrator.steps.templates import render
from orchestrator.workspace.catalog import Action, Workspace


@dataclass(frozen=True)
class LaneInput:
    """What a lane gets: the step, its action, its outcome and the output it depends on."""

    step: Step
    action: Action
    outcome: Outcome
    workspace: Workspace
    upstream: Mapping[str, Any]
    connectors: Connectors
    shadow: bool
    work: Delivery | None = field(default=None, compare=False, repr=False)
    """The job running the step, if any: what a lane records is fenced by it."""

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.upstream.get("rows", []))

    def template_context(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.model_dump(mode="json"),
            "params": self.step.params,
            "rows": self.rows,
            "audience": len(self.rows),
            "workspace": {"name": self.workspace.name, "currency": self.workspace.currency},
        }


class Drafter(Protocol):
    """The intelligence lane's port: a template drafter here, an LLM in its own module."""

    async def draft(self, lane_input: LaneInput) -> str: ...


class TemplateDrafter:
    """Drafts from the action's template, with no model."""

    async def draft(self, lane_input: LaneInput) -> str:
        return render(
            lane_input.action.template or "",
            lane_input.template_context(),
            name=f"actions.{lane_input.step.action}.template",
        )


LogicFunction = Callable[[LaneInput], Awaitable[dict[str, Any]]]


async def query_rows(lane_input: LaneInput) -> dict[str, Any]:
    """Rows from a read-only query: the audience later steps act on."""
    action = lane_input.action
    connector = lane_input.connectors.get(action.connection or "")
    rows = await connector.fetch(query=action.query or "", params=lane_input.step.params)
    return {"rows": rows, "audience": len(rows)}


LOGIC_FUNCTIONS: dict[str, LogicFunction] = {"query_rows": query_rows}


class LaneFailed(BatonError):
    """A lane could not do a step's work."""


class Lanes:
    """Runs a step in its lane. The chat lane's post is returned for the caller to notify."""

    def __init__(
        self, drafter: Drafter | None = None, functions: Mapping[str, LogicFunction] | None = None
    ) -> None:
        self.drafter = drafter or TemplateDrafter()
        self.functions = dict(functions or LOGIC_FUNCTIONS)

    async def run(self, lane_input: LaneInput) -> dict[str, Any]:
        runner = {
            Lane.LOGIC: self._logic,
            Lane.INTELLIGENCE: self._intelligence,
            Lane.SYSTEMS: self._systems,
            Lane.JUDGMENT: self._judgment,
        }[lane_input.step.lane]
        output = await runner(lane_input)
        # Rows and drafts flow down a chain of steps unless a step replaces them.
        return {
            **{k: v for k, v in lane_input.upstream.items() if k in ("rows", "draft")},
            **output,
        }

    async def _logic(self, lane_input: LaneInput) -> dict[str, Any]:
        name = lane_input.action.function or ""
        if name not in self.functions:
            raise LaneFailed(f"unknown logic function {name!r}")
        return await self.functions[name](lane_input)

    async def _intelligence(self, lane_input: LaneInput) -> dict[str, Any]:
        return {"draft": await self.drafter.draft(lane_input)}

    async def _systems(self, lane_input: LaneInput) -> dict[str, Any]:
        action = lane_input.action
        if lane_input.workspace.connections[action.connection or ""].kind == "chat":
            return await self._chat(lane_input)
        connector = lane_input.connectors.get(action.connection or "")
        params = {**lane_input.step.params, "draft": lane_input.upstream.get("draft", "")}
        receipt = await connector.perform(
            Work(
                action=action,
                params=params,
                rows=lane_input.rows,
                key=lane_input.step.id,
                shadow=lane_input.shadow,
            )
        )
        return {"receipt": receipt}

    async def _chat(self, lane_input: LaneInput) -> dict[str, Any]:
        text = render(
            lane_input.action.message or "",
            lane_input.template_context(),
            name=f"actions.{lane_input.step.action}.message",
        )
        return {"post": text, "shadow": lane_input.shadow}

    async def _judgment(self, lane_input: LaneInput) -> dict[str, Any]:
        return {"decided_by_human": True}
