"""Validation of a plan the model proposed: catalog, schema, content, policy and budget.

A plan that breaks any rule is refused whole, with every problem named, so the model can
fix them all on its one retry; the planner counts a refused plan as a failed one (fallback
to the playbooks, and an incident when it keeps happening).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.errors import BatonError
from orchestrator.llm.estimates import audience_of, estimate, money
from orchestrator.llm.tools import LLM_PLAY, params_of
from orchestrator.models import Lane
from orchestrator.steps.planner import PlanInput, Proposal, signature
from orchestrator.steps.policy import sends_draft
from orchestrator.workspace.catalog import Action, Parameter

MODEL_REASONING = "The model's reasoning (unchecked)"
"""How the model's rationale is labelled wherever it is shown: its words, not a fact and
never anyone's approval."""
MODEL_EXPECTS = "The model expects (unchecked)"

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
}


class InvalidPlan(BatonError):
    """The model's plan broke a rule; the message is fed back to it once."""


def param_errors(action: Action, params: Mapping[str, Any]) -> list[str]:
    """Differences between `params` and the action's schema (every declared one is required)."""
    errors = [f"unknown parameter {k!r}" for k in params if k not in action.parameters]
    for name, spec in action.parameters.items():
        if name not in params:
            errors.append(f"missing parameter {name!r}")
            continue
        value = params[name]
        if (isinstance(value, bool) and spec.type != "boolean") or not isinstance(
            value, _JSON_TYPES[spec.type]
        ):
            errors.append(f"{name!r} must be {spec.type}, got {value!r}")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            errors += _range_errors(name, spec, float(value))
    return errors


def _range_errors(name: str, spec: Parameter, value: float) -> list[str]:
    if not math.isfinite(value):
        return [f"{name!r} must be finite"]
    if spec.minimum is not None and value < spec.minimum:
        return [f"{name!r} must be at least {spec.minimum:g}"]
    if spec.maximum is not None and value > spec.maximum:
        return [f"{name!r} must be at most {spec.maximum:g}"]
    return []


def proposals_from(
    calls: Sequence[Mapping[str, Any]], plan_input: PlanInput, remaining_budget: float
) -> list[Proposal]:
    """Validated proposals from tool calls, chained in order; raises `InvalidPlan`."""
    if not calls:
        raise InvalidPlan("no steps proposed: call at least one tool")
    cap = plan_input.workspace.policy.max_steps_per_plan
    if len(calls) > cap:
        raise InvalidPlan(
            f"{len(calls)} steps proposed, but a plan may have at most {cap}: "
            f"propose the {cap} or fewer steps that matter most"
        )
    check = _PlanCheck(plan_input, remaining_budget)
    for i, call in enumerate(calls):
        check.add(i, call)
    if check.errors:
        raise InvalidPlan("; ".join(check.errors))
    return check.proposals


@dataclass
class _PlanCheck:
    """Checks calls in order: what a step may rely on depends on the steps before it."""

    plan_input: PlanInput
    remaining: float
    errors: list[str] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    drafted: bool = False
    previous: str | None = None
    rejected: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rejected = self.plan_input.rejected()

    def add(self, i: int, call: Mapping[str, Any]) -> None:
        name, args = str(call.get("name", "")), call.get("args") or {}
        action = self.plan_input.workspace.actions.get(name)
        if call.get("malformed"):
            self.errors.append(f"call {i + 1} ({name}): the arguments were not valid JSON")
        elif action is None:
            self.errors.append(f"call {i + 1}: {name!r} is not an action in the catalog")
        elif (params := params_of(args)) is None:
            self.errors.append(f"call {i + 1} ({name}): params must be an object")
        else:
            problems = self._problems(name, action, params)
            self.errors += [f"call {i + 1} ({name}): {p}" for p in problems]
            after = i - 1 if i else None
            self.proposals.append(_proposal(name, action, params, args, after=after))
            self.drafted = self.drafted or action.lane is Lane.INTELLIGENCE
        self.previous = name

    def _problems(self, name: str, action: Action, params: dict[str, Any]) -> list[str]:
        problems = param_errors(action, params)
        if signature(name, params) in self.rejected:
            problems.append("a person rejected this action with these parameters")
        problems += self._content(action)
        return problems or self._policy(name, action, params)

    def _content(self, action: Action) -> list[str]:
        workspace = self.plan_input.workspace
        if self.drafted or not sends_draft(action, workspace):
            return []
        drafting = sorted(n for n, a in workspace.actions.items() if a.lane is Lane.INTELLIGENCE)
        return [
            "it sends a drafted message but no step before it drafts one: call a drafting "
            f"action ({', '.join(drafting) or 'none in the catalog'}) before it"
        ]

    def _policy(self, name: str, action: Action, params: dict[str, Any]) -> list[str]:
        plan_input = self.plan_input
        workspace = plan_input.workspace
        audience = audience_of(name, self.previous, plan_input.history)
        try:
            seen = estimate(
                name,
                action,
                params,
                audience=audience,
                workspace=workspace,
                rules=(*plan_input.rules,),
            )
        except BatonError as error:
            return [f"its cost cannot be computed: {error}"]
        reach = f"for an estimated audience of {audience}" if audience else "at the least"
        problems = []
        if seen.cost > self.remaining + 1e-9:
            problems.append(
                f"costs {money(seen.cost, workspace)} {reach}, only "
                f"{money(max(self.remaining, 0.0), workspace)} of the budget is left"
            )
        if seen.decision.verdict == "forbid":
            problems.append(f"policy forbids it ({seen.decision.reason}, {reach})")
        self.remaining -= seen.cost
        return problems


def model_words(label: str, text: object, limit: int) -> str:
    """The model's text on one line, quoted after `label`; empty when it wrote nothing."""
    said = " ".join(str(text or "").split())[:limit]
    return f'{label}: "{said}"' if said else ""


def _proposal(
    name: str,
    action: Action,
    params: dict[str, Any],
    args: Mapping[str, Any],
    after: int | None,
) -> Proposal:
    return Proposal(
        action=name,
        params=params,
        rationale=model_words(MODEL_REASONING, args.get("rationale"), 500),
        expected_impact=(
            model_words(MODEL_EXPECTS, args.get("expected_impact"), 200) or action.expected_impact
        ),
        play=LLM_PLAY,
        after=after,
    )
