"""From proposals to governed steps: create, make ready, govern, ask for approval."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from orchestrator.approvals import ladder as sla
from orchestrator.approvals.quorum import SINGLE, Quorum, resolve
from orchestrator.learning import evidence, holdout, verify
from orchestrator.learning.evidence import Evidence
from orchestrator.models import Approval, Holdout, Outcome, Step, StepStatus
from orchestrator.notify.notices import Notice, NoticeKind
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import Execute, ExpireApproval
from orchestrator.steps.planner import Proposal
from orchestrator.steps.policy import Decision, govern, missing_draft
from orchestrator.steps.templates import render_number
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.workspace.catalog import Action, Rule, Workspace


def execute_of(step: Step) -> Execute:
    """The job that runs `step`: it names its outcome too, so the two are read at once."""
    return Execute(step=step.id, outcome=step.outcome_id)


def approval_id_for(step_id: str) -> str:
    return f"a{step_id[1:]}"


def cost_of(action: Action, step: Step, audience: int) -> float:
    context = {"params": step.params, "audience": audience}
    return round(render_number(action.cost, context, name=f"actions.{step.action}.cost"), 2)


async def create(
    ctx: Context, outcome: Outcome, proposals: Sequence[Proposal], commit: Commit
) -> list[Step]:
    """Add planned steps for `proposals` to `commit` (the first ones get governed later)."""
    workspace = ctx.workspace_of(outcome.workspace)
    now = ctx.clock.now()
    steps: list[Step] = []
    ids = await ctx.store.next_ids("s", len(proposals), outcome.workspace)
    for proposal, step_id in zip(proposals, ids, strict=True):
        action = workspace.actions[proposal.action]
        depends = steps[proposal.after].id if proposal.after is not None else None
        step = Step(
            id=step_id,
            outcome_id=outcome.id,
            workspace=outcome.workspace,
            action=proposal.action,
            lane=action.lane,
            params=proposal.params,
            rationale=proposal.rationale,
            expected_impact=proposal.expected_impact,
            play=proposal.play,
            depends_on=depends,
            created_at=now,
            shadow=outcome.shadow,
        )
        transitions.record(
            commit,
            ctx.keys,
            None,
            step,
            actor="agent",
            at=now,
            action="step.planned",
            detail={"params": step.params, "play": step.play, "proposal": proposal.source},
        )
        commit.op("RPUSH", ctx.keys.steps_of(outcome.id), step.id)
        steps.append(step)
    return steps


async def make_ready(
    ctx: Context,
    outcome: Outcome,
    step: Step,
    upstream: dict[str, Any],
    commit: Commit,
    steps_today: int,
    *,
    spent: float | None = None,
    rules: list[Rule] | None = None,
    queue_execution: bool = True,
) -> Step:
    """Govern a step whose inputs are known: forbid, run (auto) or ask a person.

    `spent` and `rules`, when the caller already read them, save their round trips. An
    approved step gets an execute job unless `queue_execution` is False (the caller starts
    it itself)."""
    workspace = ctx.workspace_of(outcome.workspace)
    action = workspace.actions[step.action]
    upstream, held = _hold_out(step, action, workspace, upstream)
    if held is not None and held.measured:
        with_held = step.model_copy(update={"holdout": held})
        pre = await verify.read_pre(
            with_held, workspace, outcome.metric, ctx.connectors_of(outcome.workspace)
        )
        held = held.model_copy(update={"pre": pre})
    audience = len(upstream.get("rows", []))
    step = step.model_copy(
        update={"audience": audience, "cost": cost_of(action, step, audience), "holdout": held}
    )
    if spent is None:
        spent = await ctx.store.spent(outcome.id)
    remaining = outcome.budget - spent
    decision = missing_draft(action, workspace, upstream) or govern(
        step,
        action,
        workspace.policy,
        extra_rules=rules if rules is not None else await ctx.extra_rules(outcome.workspace),
        remaining_budget=remaining,
        steps_today=steps_today,
    )
    found: tuple[Evidence, ...] = ()
    if decision.verdict == "approve" and verify.measurable(step, workspace.metrics[outcome.metric]):
        pooled = await evidence.library(ctx.store, outcome.workspace, outcome.metric)
        found = evidence.of_step(pooled, step, outcome.metric)
    return _apply_decision(
        ctx,
        outcome,
        workspace,
        step,
        decision,
        upstream,
        commit,
        queue_execution=queue_execution,
        pooled=found,
    )


def _hold_out(
    step: Step, action: Action, workspace: Workspace, upstream: dict[str, Any]
) -> tuple[dict[str, Any], Holdout | None]:
    """The upstream the step acts on (its control group removed) and its holdout: the
    control never reaches the step's record of what to act on, let alone its action."""
    rows = upstream.get("rows")
    if not rows:
        return upstream, None
    kept, held = holdout.split(step, action, workspace, rows)
    return ({**upstream, "rows": kept} if held is not None else upstream), held


def _apply_decision(
    ctx: Context,
    outcome: Outcome,
    workspace: Workspace,
    step: Step,
    decision: Decision,
    upstream: dict[str, Any],
    commit: Commit,
    *,
    queue_execution: bool = True,
    pooled: tuple[Evidence, ...] = (),
) -> Step:
    now = ctx.clock.now()
    status = {
        "auto": StepStatus.APPROVED,
        "forbid": StepStatus.FORBIDDEN,
        "approve": StepStatus.AWAITING_APPROVAL,
    }[decision.verdict]
    after = step.model_copy(
        update={
            "status": status,
            "decision": str(decision),
            "output": {"upstream": upstream} if upstream else {},
        }
    )
    transitions.record(
        commit,
        ctx.keys,
        step.model_copy(update={"status": StepStatus.PLANNED}),
        after,
        actor="policy",
        at=now,
        action=f"step.{decision.verdict}",
        detail={
            "rule": decision.rule,
            "reason": decision.reason,
            "cost": after.cost,
            "audience": after.audience,
            **_holdout_detail(after),
        },
    )
    if status is StepStatus.APPROVED:
        if queue_execution:
            ctx.queue.enqueue_in(commit, execute_of(step))
    elif status is StepStatus.AWAITING_APPROVAL:
        _request_approval(ctx, outcome, workspace, after, commit, now, pooled, decision.quorum)
    else:
        forbidden = f"forbidden by policy: {decision.reason}"
        ctx.notify(commit, Notice.on_step(NoticeKind.STEP_FAILED, outcome, step, text=forbidden))
    return after


def _holdout_detail(step: Step) -> dict[str, Any]:
    held = step.holdout
    if held is None:
        return {}
    if not held.measured:
        return {"held_back": 0, "not_measured": held.reason}
    return {"held_back": len(held.control), "experiment": held.experiment}


def ask_in(
    ctx: Context,
    outcome: Outcome,
    step: Step,
    decision: Decision,
    upstream: dict[str, Any],
    commit: Commit,
) -> Step:
    """Apply a decision reached elsewhere (a case playbook's condition) to a planned step."""
    workspace = ctx.workspace_of(outcome.workspace)
    return _apply_decision(ctx, outcome, workspace, step, decision, upstream, commit)


def _request_approval(
    ctx: Context,
    outcome: Outcome,
    workspace: Workspace,
    step: Step,
    commit: Commit,
    now: datetime,
    pooled: tuple[Evidence, ...] = (),
    asked: Quorum = SINGLE,
) -> None:
    policy = workspace.policy
    quorum = resolve(asked, outcome.approvers, workspace.people)
    approval = Approval(
        id=approval_id_for(step.id),
        step_id=step.id,
        outcome_id=outcome.id,
        workspace=outcome.workspace,
        what=workspace.actions[step.action].description,
        why=step.rationale,
        expected_impact=step.expected_impact,
        cost=step.cost,
        approvers=quorum.approvers,
        needed=quorum.needed,
        groups=quorum.groups,
        escalation=workspace.people.on_call,
        requested_at=now,
        deadline=now + timedelta(hours=policy.approval_timeout_h),
        on_timeout=policy.on_timeout,
        evidence=next((_evidence(e) for e in pooled if not e.key.segment), {}),
        segment_evidence={e.key.segment: _evidence(e) for e in pooled if e.key.segment},
    )
    transitions.record(
        commit,
        ctx.keys,
        None,
        approval,
        actor="policy",
        at=now,
        action="approval.requested",
        detail={"step": step.id},
    )
    commit.op("SADD", ctx.keys.pending_approvals(outcome.workspace), approval.id)
    ctx.queue.schedule_in(
        commit,
        f"approval:{approval.id}",
        approval.deadline,
        ExpireApproval(approval=approval.id),
    )
    sla.schedule_in(ctx, commit, approval, policy)
    ctx.notify(commit, Notice.on_approval(NoticeKind.APPROVAL_REQUESTED, outcome, approval))


def _evidence(found: Evidence) -> dict[str, float]:
    return {"runs": found.runs, "effect": found.effect, "low": found.low, "high": found.high}


def steps_on(day: datetime, steps: Sequence[Step]) -> int:
    return sum(
        1
        for s in steps
        if s.created_at.date() == day.date()
        and s.status not in (StepStatus.PLANNED, StepStatus.CANCELLED)
    )
