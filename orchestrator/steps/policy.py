"""Deterministic governance: per step, `auto`, `approve` or `forbid`. Never the LLM."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.approvals.quorum import SINGLE, Quorum, of_rules
from orchestrator.models import Lane, Step
from orchestrator.workspace.catalog import Action, Policy, Rule, Workspace

_RISK = {"low": 0, "medium": 1, "high": 2}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_STRICTNESS = {"auto": 0, "approve": 1, "forbid": 2}
_USES_DRAFT = re.compile(r"\bdraft\b")
ALWAYS_ASK = "always ask"
"""The rule name of the decision that asks a person about an action marked `always_ask`."""
NO_DRAFT = "no draft"
"""The rule name of the decision that forbids sending when nothing was drafted."""


@dataclass(frozen=True)
class Decision:
    """What policy said about one step, and why."""

    verdict: str  # auto | approve | forbid
    rule: str
    reason: str
    quorum: Quorum = SINGLE
    """For `approve`: the approvals the matching rules ask for together."""

    def __str__(self) -> str:
        return f"{self.verdict} ({self.rule})"


def _param_holds(rule: Rule, params: dict[str, Any]) -> bool:
    if rule.param is None or rule.op is None:
        return True
    if rule.param not in params:
        return False
    try:
        return bool(_OPS[rule.op](params[rule.param], rule.value))
    except TypeError:
        return False


def applies(rule: Rule, step: Step, action: Action) -> bool:
    checks = (
        rule.action is None or rule.action == step.action,
        rule.lane is None or rule.lane == action.lane,
        rule.reaches_customers is None or rule.reaches_customers == action.reaches_customers,
        rule.cost_over is None or step.cost > rule.cost_over,
        rule.audience_over is None or step.audience > rule.audience_over,
        rule.audience_at_most is None or step.audience <= rule.audience_at_most,
        rule.cost_at_most is None or step.cost <= rule.cost_at_most + 1e-9,
        rule.params is None or param_class(rule.params) == param_class(step.params),
        rule.risk_at_least is None or _RISK[action.risk] >= _RISK[rule.risk_at_least],
    )
    return all(checks) and _param_holds(rule, step.params)


def param_class(params: Mapping[str, Any]) -> str:
    """Parameters in a canonical form: two steps with the same class are the same use."""
    return json.dumps(dict(params), sort_keys=True, default=str) if params else ""


def forbids(rule: Rule, action_name: str, action: Action, params: dict[str, Any]) -> bool:
    """Whether `rule` forbids this use of an action whatever its cost and audience turn out
    to be: what a planner can know before a step exists."""
    if rule.decide != "forbid" or rule.cost_over is not None or rule.audience_over is not None:
        return False
    checks = (
        rule.action is None or rule.action == action_name,
        rule.lane is None or rule.lane == action.lane,
        rule.reaches_customers is None or rule.reaches_customers == action.reaches_customers,
        rule.risk_at_least is None or _RISK[action.risk] >= _RISK[rule.risk_at_least],
    )
    return all(checks) and _param_holds(rule, params)


def govern(
    step: Step,
    action: Action,
    policy: Policy,
    *,
    extra_rules: Sequence[Rule] = (),
    remaining_budget: float,
    steps_today: int,
) -> Decision:
    """Decide one step. Budgets and caps forbid; otherwise the strictest matching rule wins."""
    if step.cost > remaining_budget + 1e-9:
        return Decision("forbid", "budget", f"costs {step.cost:g}, {remaining_budget:g} left")
    if steps_today >= policy.max_steps_per_day:
        return Decision("forbid", "rate cap", f"{policy.max_steps_per_day} steps a day at most")
    matching = [r for r in (*policy.rules, *extra_rules) if applies(r, step, action)]
    earned = [r for r in matching if r.earned]
    decision = _strictest([r for r in matching if not r.earned], policy)
    if action.always_ask:
        if decision.verdict == "auto":
            return Decision("approve", ALWAYS_ASK, "the action always asks a person")
        return decision
    if decision.verdict == "approve" and earned:
        rule = earned[0]
        return Decision("auto", rule.name, f"earned rule {rule.name!r}")
    return decision


def _strictest(matching: Sequence[Rule], policy: Policy) -> Decision:
    if not matching:
        return Decision(policy.default, "default", "no rule matched")
    strictest = max(matching, key=lambda r: _STRICTNESS[r.decide])
    quorum = of_rules(matching) if strictest.decide == "approve" else SINGLE
    return Decision(strictest.decide, strictest.name, f"rule {strictest.name!r}", quorum)


def sends_draft(action: Action, workspace: Workspace) -> bool:
    """Whether a step of `action` sends the draft of a step before it: without one it
    would send empty messages, so it is never proposed or run without a draft."""
    if action.sends_draft is not None:
        return action.sends_draft
    if action.lane is not Lane.SYSTEMS:
        return False
    connection = workspace.connections.get(action.connection or "")
    if connection is not None and connection.kind == "smtp":
        return True
    used = (
        action.statement,
        action.url,
        action.to,
        json.dumps(action.body),
        *action.headers.values(),
    )
    return any(_USES_DRAFT.search(text or "") for text in used)


def missing_draft(
    action: Action, workspace: Workspace, upstream: dict[str, Any]
) -> Decision | None:
    """A forbid when the step would send a draft that does not exist (or is blank)."""
    if not sends_draft(action, workspace) or str(upstream.get("draft") or "").strip():
        return None
    return Decision("forbid", NO_DRAFT, "it sends a drafted message and nothing was drafted")
