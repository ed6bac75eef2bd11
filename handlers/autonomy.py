"""Earned autonomy on cards: the offer after an approval that earned it, its acceptance
(a click by an owner or approver) and its revocation (a click, or `policies remove`)."""

from __future__ import annotations

from typing import Final

from orchestrator.errors import NotAllowed
from orchestrator.models import Approval
from orchestrator.people.actors import Actor
from orchestrator.runtime.desk import Desk
from orchestrator.steps import autonomy
from orchestrator.workspace.catalog import Rule, Workspace

from handlers import texts
from handlers.cards import Button, Card, Click, Reply
from handlers.commands import text_reply
from handlers.effects import in_metric

ACCEPT: Final = "autonomy"
REVOKE: Final = "revoke"


def offer_card(approval: Approval, found: autonomy.Offer, workspace: Workspace) -> Card:
    rule, evidence = found.rule, found.evidence
    params = ", ".join(f"{k}={v}" for k, v in sorted((rule.params or {}).items()))
    action = f"{rule.action} ({params})" if params else str(rule.action)
    cost = f"{rule.cost_at_most or 0:g} {workspace.currency}"
    return Card(
        title=texts.AUTONOMY_OFFER.format(action=action),
        lines=(
            texts.AUTONOMY_RECORD.format(approved=found.record.approved),
            texts.AUTONOMY_EVIDENCE.format(
                runs=evidence.runs,
                word="run" if evidence.runs == 1 else "runs",
                effect=in_metric(evidence.effect, workspace, evidence.key.metric),
                low=f"{evidence.low:+.2f}",
                high=f"{evidence.high:+.2f}",
            ),
            texts.AUTONOMY_BOUNDS.format(audience=rule.audience_at_most, cost=cost),
            texts.AUTONOMY_REVOCABLE,
        ),
        buttons=(Button(texts.AUTONOMY_BUTTON, ACCEPT, approval.id, "primary"),),
        mentions=tuple(approval.approvers),
    )


async def after_approval(desk: Desk, approval_id: str) -> list[Reply]:
    """The offer an approval earned, to the conversation (its approvers see it), if any."""
    approval = await desk.approval(approval_id)
    found = await desk.autonomy_offer(approval)
    if found is None:
        return []
    return [Reply(offer_card(approval, found, desk.workspace(approval.workspace)))]


async def accept(desk: Desk, click: Click, workspace: Workspace, actor: Actor) -> Reply:
    """An owner's or approver's click on the offer: the rule joins the policy, audited."""
    approval = await desk.approval(click.value)
    offered = await desk.offered(approval)
    if offered is None:
        return text_reply(texts.AUTONOMY_GONE.format(why=texts.AUTONOMY_EXPIRED), private=True)
    rule, approved = offered
    if not await desk.done_before(actor) and not await desk.still_earned(approval, rule):
        return text_reply(
            texts.AUTONOMY_GONE.format(why=texts.AUTONOMY_REJECTED_SINCE), private=True
        )
    outcome = await desk.outcome(approval.outcome_id)
    step = await desk.step(approval.step_id)
    try:
        added = await desk.add_rule(
            workspace,
            approval.workspace,
            rule,
            actor=actor,
            step=step,
            outcome=outcome,
            detail=autonomy.detail(rule, approved, outcome),
        )
    except NotAllowed:
        return text_reply(texts.RULE_NOT_ALLOWED, private=True)
    if not added:
        return text_reply(texts.RULE_EXISTS.format(rule=rule.name), private=True)
    return _added(rule, click, workspace)


def _added(rule: Rule, click: Click, workspace: Workspace) -> Reply:
    who = "@" + workspace.display(click.user)
    card = Card(
        title=texts.AUTONOMY_ADDED.format(who=who, rule=rule.name),
        buttons=(Button(texts.AUTONOMY_REVOKE_BUTTON, REVOKE, click.value, "danger"),),
    )
    return Reply(card)


async def revoke(desk: Desk, click: Click, workspace: Workspace, actor: Actor) -> Reply:
    """A click on Revoke: the earned rule leaves the policy, audited."""
    approval = await desk.approval(click.value)
    offered = await desk.offered(approval)
    who = "@" + workspace.display(click.user)
    if offered is None:
        return text_reply(texts.AUTONOMY_REVOKED_BEFORE, private=True)
    rule = offered[0]
    if await desk.done_before(actor):
        return text_reply(texts.AUTONOMY_REVOKED.format(who=who, rule=rule.name))
    try:
        removed = await desk.revoke_rule(workspace, approval.workspace, rule, actor)
    except NotAllowed:
        return text_reply(texts.RULE_NOT_ALLOWED, private=True)
    if removed is None:
        return text_reply(texts.AUTONOMY_REVOKED_BEFORE, private=True)
    return text_reply(texts.AUTONOMY_REVOKED.format(who=who, rule=rule.name))
