"""Which actions the planner is offered, and what it is told about each.

Actions that only case playbooks use (they act on one contract or ticket, with its fields)
cannot move an outcome's metric, so they are not offered. Each offered tool says what a
step of it would cost in money and whether policy lets it run, asks a person or forbids it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.errors import BatonError
from orchestrator.llm.estimates import Estimate, audience_of, estimate, money
from orchestrator.llm.tools import action_tool
from orchestrator.models import Step
from orchestrator.steps.planner import PlanInput
from orchestrator.workspace.catalog import Action, Rule, Workspace

FACTS_KEPT = 4_096
_FACTS: dict[tuple[int, tuple[Rule, ...], str, int], tuple[Workspace, dict[str, str]]] = {}
"""A memo of `_facts`: the same workspace, rules, action and audience always say the same,
and working it out renders the cost template once per parameter value. Keyed by the
workspace object's identity (checked on a hit), cleared when full."""
SAMPLED = 200
"""An integer parameter with at most this many values is described value by value."""
_VERDICTS = {"auto": "runs without approval", "approve": "a person must approve it"}


def offered(workspace: Workspace) -> list[str]:
    """Action names a plan may use: all but those only case playbooks use."""
    in_plays = {s.action for plays in workspace.playbooks.values() for p in plays for s in p.steps}
    in_cases = {s.action for book in workspace.case_playbooks.values() for s in book.steps}
    return sorted(n for n in workspace.actions if n in in_plays or n not in in_cases)


def plan_tools(plan_input: PlanInput) -> list[dict[str, Any]]:
    """The offered actions as tools, each described with its cost and policy's word."""
    workspace = plan_input.workspace
    return [
        action_tool(name, workspace.actions[name], facts_of(name, plan_input))
        for name in offered(workspace)
    ]


def facts_of(name: str, plan_input: PlanInput) -> dict[str, str]:
    """What the planner is told about `name` now: audience, cost in money, policy's word."""
    audience = audience_of(name, None, plan_input.history) or last_rows(plan_input.history)
    workspace, rules = plan_input.workspace, tuple(plan_input.rules)
    key = (id(workspace), rules, name, audience)
    cached = _FACTS.get(key)
    if cached is not None and cached[0] is workspace:
        return dict(cached[1])
    if len(_FACTS) >= FACTS_KEPT:
        _FACTS.clear()
    facts = _facts(name, workspace, rules, audience)
    _FACTS[key] = (workspace, facts)
    return dict(facts)


def _facts(
    name: str, workspace: Workspace, rules: tuple[Rule, ...], audience: int
) -> dict[str, str]:
    action = workspace.actions[name]
    facts = {"estimated audience": str(audience)} if audience else {}
    seen = _samples(name, action, audience, workspace, rules)
    if not seen:
        return {**facts, "cost": "depends on its parameters", "policy": "decided per step"}
    facts["policy"] = _policy_words(seen)
    each = [] if audience else _samples(name, action, 1, workspace, rules)
    if each and [e.cost for _, e in each] != [e.cost for _, e in seen]:
        facts["cost"] = f"{_span(each, workspace)} per customer it reaches"  # audience unknown
    else:
        facts["cost"] = _span(seen, workspace)
    return facts


def _span(seen: list[tuple[str, Estimate]], workspace: Workspace) -> str:
    costs = [e.cost for _, e in seen]
    low, high = money(min(costs), workspace), money(max(costs), workspace)
    return low if low == high else f"{low} to {high}"


def _policy_words(seen: list[tuple[str, Estimate]]) -> str:
    """Policy's word per run of parameter values that share it: `percent 1-10: runs
    without approval; percent 11-30: a person must approve it`."""
    runs: list[tuple[str, str, str]] = []  # (first label, last label, words)
    for label, estimated in seen:
        words = _said(estimated)
        if runs and runs[-1][2] == words:
            runs[-1] = (runs[-1][0], label, words)
        else:
            runs.append((label, label, words))
    if len(runs) == 1:
        return runs[0][2]
    return "; ".join(
        f"{first if first == last else f'{first}-{last.split()[-1]}'}: {words}"
        for first, last, words in runs
    )


def _said(seen: Estimate) -> str:
    decision = seen.decision
    return _VERDICTS.get(decision.verdict, f"forbidden ({decision.reason})")


def _samples(
    name: str, action: Action, audience: int, workspace: Workspace, rules: tuple[Rule, ...]
) -> list[tuple[str, Estimate]]:
    """Estimates over the values of the action's one bounded integer parameter (every
    value, up to `SAMPLED`), or with no parameters when it has none; empty otherwise."""
    params = action.parameters
    if not params:
        choices: list[tuple[str, dict[str, Any]]] = [("", {})]
    else:
        (key, spec), *others = params.items()
        low, high = spec.minimum, spec.maximum
        if others or spec.type != "integer" or low is None or high is None:
            return []
        if high - low >= SAMPLED:
            return []
        choices = [(f"{key} {v}", {key: v}) for v in range(int(low), int(high) + 1)]
    found = []
    for label, values in choices:
        try:
            estimated = estimate(
                name,
                action,
                values,
                audience=audience,
                workspace=workspace,
                rules=rules,
            )
        except BatonError:  # a cost template the probe cannot fill: say it depends
            return []
        found.append((label, estimated))
    return found


def last_rows(history: Sequence[Step]) -> int:
    """How many rows the latest step that found any found: the likely next audience."""
    for step in reversed(history):
        rows = step.output.get("rows")
        if isinstance(rows, list):
            return len(rows)
    return 0
