"""Earned autonomy, the mirror of rules learned from rejections.

When people have approved an action with the same parameters (its parameter class)
`policy.autonomy_after` times, never rejected it, and its measured effect's 95% interval
lies wholly on the metric's good side, Baton offers its approvers a rule: auto-approve
that action with those parameters within the largest audience and cost they approved.
Never for an action marked `always_ask`. An accepted offer is a learned rule (listed by
`policies`, removable there), marked `earned`: policy then approves matching steps
itself, within bounds, and the audit names the rule.

Offers are kept in Redis under the approval that earned them, for the click that
accepts them; the counts are read from the approvals themselves, so they can never
disagree with what people decided.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from orchestrator.errors import NotFound
from orchestrator.learning.evidence import Evidence, Key, library
from orchestrator.models import Approval, ApprovalStatus, Direction, Outcome, Step
from orchestrator.runtime.context import Context
from orchestrator.steps.policy import param_class
from orchestrator.steps.rules import RuleBook
from orchestrator.workspace.catalog import Rule, Workspace

OFFER_TTL_S = 30 * 86400
"""How long an offer stays open to be accepted."""
REOFFER_S = 7 * 86400
"""An offer is made at most once in this long for the same action and parameters."""


@dataclass(frozen=True)
class Record:
    """What people decided about one action with one parameter class."""

    approved: int
    rejected: int
    audience: int
    """The largest audience approved."""
    cost: float
    """The largest cost approved."""


@dataclass(frozen=True)
class Offer:
    rule: Rule
    record: Record
    evidence: Evidence


def by_people(approval: Approval) -> bool | None:
    """True: approved by a person; False: rejected by one; None: neither (pending,
    expired, withdrawn, approved by a timeout)."""
    if approval.decided_by in (None, "policy"):
        return None
    if approval.status is ApprovalStatus.APPROVED:
        return True
    return False if approval.status is ApprovalStatus.REJECTED else None


async def record_of(ctx: Context, tenant: str, action: str, params: str) -> Record:
    """Every decision people made on `action` with parameter class `params`."""
    approved = rejected = audience = 0
    cost = 0.0
    events = await ctx.store.audit_chain(tenant)
    ids = [e.subject.split(":", 1)[1] for e in events if e.action == "approval.requested"]
    for approval_id in dict.fromkeys(ids):
        try:
            approval = await ctx.store.approval(approval_id)
            step = await ctx.store.step(approval.step_id)
        except NotFound:
            continue
        decided = by_people(approval)
        if step.action != action or param_class(step.params) != params or decided is None:
            continue
        if decided:
            approved += 1
            audience, cost = max(audience, step.audience), max(cost, step.cost)
        else:
            rejected += 1
    return Record(approved, rejected, audience, cost)


def favourable(evidence: Evidence, direction: Direction) -> bool:
    """The whole 95% interval on the metric's good side."""
    if direction is Direction.DECREASE:
        return evidence.high < 0
    return evidence.low > 0


def rule_for(step: Step, record: Record, workspace: Workspace) -> Rule:
    params = ", ".join(f"{k}={v}" for k, v in sorted(step.params.items()))
    what = f"{step.action} ({params})" if params else step.action
    bounds = f"up to {record.audience} in the audience and {record.cost:g} {workspace.currency}"
    return Rule(
        name=f"auto-approve {what} {bounds}",
        decide="auto",
        earned=True,
        action=step.action,
        params=dict(step.params),
        audience_at_most=record.audience,
        cost_at_most=record.cost,
    )


async def eligible(ctx: Context, approval: Approval) -> Offer | None:
    """The offer the approved `approval` earns, if any (see the module docstring)."""
    if by_people(approval) is not True:
        return None
    workspace = ctx.workspace_of(approval.workspace)
    step = await ctx.store.step(approval.step_id)
    if workspace.actions[step.action].always_ask:
        return None
    outcome = await ctx.store.outcome(approval.outcome_id)
    params = param_class(step.params)
    record = await record_of(ctx, approval.workspace, step.action, params)
    if record.rejected or record.approved < workspace.policy.autonomy_after:
        return None
    pooled = await library(ctx.store, approval.workspace, outcome.metric)
    found = pooled.get(Key(step.action, params, outcome.metric))
    direction = workspace.metrics[outcome.metric].direction
    if found is None or not favourable(found, direction):
        return None
    rule = rule_for(step, record, workspace)
    if any(r.name == rule.name for r in await RuleBook(ctx.store, ctx.clock).rules(step.workspace)):
        return None
    return Offer(rule, record, found)


def _offer_key(ctx: Context, tenant: str, approval_id: str) -> str:
    return ctx.keys.of_workspace(tenant, "autonomy", "offer", approval_id)


async def offer(ctx: Context, approval: Approval) -> Offer | None:
    """The offer to make after `approval` was approved, kept for the click that accepts
    it; None when none is earned, or the same was offered lately (checked first: it
    spares reading the workspace's decisions and evidence on every approval)."""
    if by_people(approval) is not True:
        return None
    step = await ctx.store.step(approval.step_id)
    once = f"autonomy:{approval.workspace}:{step.action}|{param_class(step.params)}"
    if await ctx.store.flags.raised(ctx.keys.dedupe(once)):
        return None
    found = await eligible(ctx, approval)
    if found is None or not await ctx.store.first_time(once, REOFFER_S):
        return None
    stored = {"rule": found.rule.model_dump(mode="json"), "approved": found.record.approved}
    await ctx.store.put_json(_offer_key(ctx, approval.workspace, approval.id), stored, OFFER_TTL_S)
    return found


async def offered(ctx: Context, tenant: str, approval_id: str) -> tuple[Rule, int] | None:
    """The rule offered after `approval_id` and the approvals that earned it; None when
    no offer is open."""
    stored = await ctx.store.get_json(_offer_key(ctx, tenant, approval_id))
    if stored is None:
        return None
    return Rule.model_validate(stored["rule"]), int(stored["approved"])


async def still_earned(ctx: Context, approval: Approval, rule: Rule) -> bool:
    """Whether the offer still stands: no rejection since, not marked `always_ask` since."""
    workspace = ctx.workspace_of(approval.workspace)
    action = workspace.actions.get(rule.action or "")
    if action is None or action.always_ask:
        return False
    params = param_class(rule.params or {})
    record = await record_of(ctx, approval.workspace, rule.action or "", params)
    return not record.rejected


def detail(rule: Rule, approved: int, outcome: Outcome) -> dict[str, str]:
    """What the audit keeps of an accepted offer, besides the rule's name."""
    return {
        "earned": "true",
        "approved": str(approved),
        "params": json.dumps(rule.params or {}, sort_keys=True),
        "audience_at_most": str(rule.audience_at_most),
        "cost_at_most": f"{rule.cost_at_most:g}",
        "metric": outcome.metric,
    }
