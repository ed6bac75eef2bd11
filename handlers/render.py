"""Cards built from domain records; words come from `texts`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from orchestrator.approvals import quorum
from orchestrator.approvals.decide import withdrawn_because
from orchestrator.approvals.edits import diff
from orchestrator.cases.stats import CaseStats
from orchestrator.llm.tools import LLM_PLAY
from orchestrator.llm.validate import MODEL_EXPECTS, MODEL_REASONING
from orchestrator.models import (
    Approval,
    ApprovalStatus,
    AuditEvent,
    Direction,
    Evaluation,
    Outcome,
    OutcomeKind,
    OutcomeStatus,
    Step,
    StepStatus,
    Verdict,
)
from orchestrator.notify.notices import PlanData
from orchestrator.outcomes.parser import Change
from orchestrator.outcomes.session import Problem, Session
from orchestrator.steps.planner import IN_FLIGHT
from orchestrator.workspace.catalog import Metric, Workspace

from handlers import effects, texts
from handlers.cards import Button, Card
from handlers.edit_form import editable


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def money(workspace: Workspace, amount: float) -> str:
    return f"{workspace.currency} {amount:,.2f}".replace(".00", "")


def people(workspace: Workspace, users: Sequence[str]) -> str:
    return ", ".join("@" + workspace.display(u) for u in users)


def help_text(workspace: Workspace) -> str:
    """`help`, with an example statement about this workspace's own first metric."""
    example = example_statement(workspace)
    if not example:
        return texts.HELP
    return texts.HELP_EXAMPLE.format(example=example) + texts.HELP.split("\n", 1)[1]


def example_statement(workspace: Workspace) -> str:
    """A statement the parser understands, on the first metric read from a system (a
    metric derived from cases is stated differently); "" when there is none."""
    for name, metric in workspace.metrics.items():
        if metric.cases:
            continue
        decrease = metric.direction is Direction.DECREASE
        return texts.EXAMPLE_STATEMENT.format(
            verb="Reduce" if decrease else "Increase",
            metric=metric.synonyms[0] if metric.synonyms else name.replace("_", " "),
            change="by 10% relative" if metric.unit == "percent" else "by 10%",
            currency=workspace.currency,
        )
    return ""


def choices(workspace: Workspace) -> str:
    return ", ".join(f"{i}. {name}" for i, name in enumerate(workspace.metrics, start=1))


def _change(session: Session, workspace: Workspace) -> str:
    draft, metric = session.draft, workspace.metrics[session.draft.metric or ""]
    assert session.baseline is not None and session.target is not None
    if draft.change is Change.RELATIVE:
        sign = "-" if session.target < session.baseline else "+"
        return f"{sign}{draft.amount:g}% relative"
    delta = session.target - session.baseline
    unit = " points" if metric.unit == "percent" else ""
    return f"{delta:+g}{unit}"


def intake_card(session: Session, workspace: Workspace) -> Card:
    if session.problem == "unknown_cases":
        sources = ", ".join(
            f"{n} ({s.description or s.kind})" for n, s in workspace.case_sources.items()
        )
        return Card(title=texts.UNKNOWN_CASES.format(sources=sources or "none declared"))
    if session.problem is not None:
        return Card(title=_problem(session, workspace), lines=_understood(session, workspace))
    if session.asking is not None:  # a question may be left: its card can cancel it
        return Card(
            title=_question(session, workspace),
            lines=_understood(session, workspace),
            buttons=(Button("Cancel", "cancel", session.id, "danger"),),
        )
    return statement_card(session, workspace)


def statement_card(session: Session, workspace: Workspace) -> Card:
    if session.draft.sla_s:
        return standing_card(session, workspace)
    draft = session.draft
    metric = workspace.metrics[draft.metric or ""]
    assert session.baseline is not None and session.target is not None and draft.deadline
    line = texts.STATEMENT_LINE.format(
        metric=draft.metric,
        baseline=metric.show(session.baseline),
        target=metric.show(session.target),
        change=_change(session, workspace),
        deadline=day(draft.deadline),
    )
    budget = draft.budget if draft.budget is not None else workspace.policy.budget
    lines = [line]
    if draft.stated_baseline is not None and abs(draft.stated_baseline - session.baseline) > 1e-9:
        lines.append(
            f"You said it is {draft.stated_baseline:g}; it measures "
            f"{metric.show(session.baseline)} now, and that is the baseline."
        )
    return _statement(session, workspace, lines, [("Budget", money(workspace, budget))])


def _statement(
    session: Session, workspace: Workspace, lines: Sequence[str], fields: list[tuple[str, str]]
) -> Card:
    """A Statement of Benefit to confirm: `lines` and `fields`, then who approves and who
    owns it, and the Confirm and Cancel buttons."""
    approvers = session.draft.approvers or workspace.people.approvers or (session.owner,)
    return Card(
        title=texts.STATEMENT_TITLE,
        lines=tuple(lines),
        fields=(
            *fields,
            ("Approvers", people(workspace, approvers)),
            ("Owner", people(workspace, (session.owner,))),
        ),
        buttons=(
            Button("Confirm", "confirm", session.id, "primary"),
            Button("Cancel", "cancel", session.id, "danger"),
        ),
        footer=texts.STATEMENT_FOOTER,
    )


def span(seconds: float | None) -> str:
    """A duration the way people say it: 40 s, 12 min, 3.5 h, 2 days."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3_600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{_short(seconds / 3_600)} h"
    return f"{_short(seconds / 86_400)} days"


def _short(amount: float) -> str:
    """One decimal at most, none when it is 0: 1.2, 24, 2.5."""
    return f"{amount:.1f}".removesuffix(".0")


def _playbook_steps(workspace: Workspace, name: str) -> str:
    book = workspace.case_playbooks[name]
    shown = []
    for step in book.steps:
        when = step.approve_when
        shown.append(
            step.action
            if when is None
            else texts.STANDING_APPROVAL_WHEN.format(
                action=step.action, field=when.field, op=when.op, value=when.value
            )
        )
    return " -> ".join(shown)


def standing_card(session: Session, workspace: Workspace) -> Card:
    """The Statement of Benefit of a standing outcome: source, playbook, SLA, metric."""
    draft = session.draft
    book = workspace.case_playbooks[draft.case_playbook or ""]
    source = workspace.case_sources[book.source]
    sla, target = span(draft.sla_s), f"{book.target_share:g}%"
    lines = (
        texts.STANDING_LINE.format(
            source=source.description or book.source,
            sla=sla,
            playbook=draft.case_playbook,
            steps=_playbook_steps(workspace, draft.case_playbook or ""),
        ),
        texts.STANDING_METRIC.format(metric=book.metric, sla=sla, target=target),
    )
    fields = [
        ("Case source", f"{book.source} ({source.kind})"),
        ("Playbook", draft.case_playbook or ""),
        ("SLA", sla),
        ("Metric", f"{book.metric} ≥ {target}"),
    ]
    return _statement(session, workspace, lines, fields)


def case_lines(cases: CaseStats | None) -> str:
    if cases is None or not (cases.done or cases.open or cases.failed):
        return texts.STANDING_NO_CASES
    return texts.STANDING_CASES.format(
        **cases.model_dump(), median=span(cases.median_s), p95=span(cases.p95_s)
    )


def _question(session: Session, workspace: Workspace) -> str:
    draft = session.draft
    if session.asking == "metric":
        if draft.metric_candidates:
            return texts.QUESTIONS["metric_ambiguous"].format(
                choices=" or ".join(draft.metric_candidates)
            )
        return texts.QUESTIONS["metric"].format(choices=choices(workspace))
    metric = workspace.metrics.get(draft.metric or "")
    to = "5%" if metric is None or metric.unit == "percent" else "50"
    return texts.QUESTIONS[str(session.asking)].format(amount=draft.amount or 0, to=to)


def _problem(session: Session, workspace: Workspace) -> str:
    draft = session.draft
    metric = workspace.metrics.get(draft.metric or "")

    def shown(value: float) -> str:
        return metric.show(value) if metric else f"{value:g}"

    better = metric.direction.value + "s" if metric else ""
    asked = session.direction or draft.direction
    detail = ""
    if session.target is not None and session.baseline is not None:
        detail = f" (from {shown(session.baseline)} to {shown(session.target)})"
    said = texts.PROBLEMS[str(session.problem)].format(
        text=draft.text[:200],
        choices=choices(workspace),
        metric=draft.metric,
        better={"decreases": "down", "increases": "up"}.get(better, better),
        asked={"decrease": "down", "increase": "up"}.get(asked.value if asked else "", "that way"),
        detail=detail,
        baseline=shown(session.baseline or 0),
        target=shown(session.target or 0),
        deadline=day(draft.deadline) if draft.deadline else "",
        phrase=draft.deadline_phrase,
        error=session.problem_detail,
        example=example_statement(workspace) or "Reduce <metric> by 10% by 31 March",
        limits=_limits(metric) if metric else "",
        meant=_meant(session, metric),
        far=metric.far_change if metric else 0.0,
    )
    if session.model_down and session.problem is Problem.NOTHING_UNDERSTOOD:
        said += texts.MODEL_DOWN_AT_INTAKE.format(why=session.model_down)
    return said


def _limits(metric: Metric) -> str:
    """The bounds a metric's values stay within, in words."""
    low, high = metric.bounds()
    if low is not None and high is not None:
        return texts.LIMITS_BETWEEN.format(low=metric.show(low), high=metric.show(high))
    if low is not None:
        return texts.LIMITS_ABOVE.format(low=metric.show(low))
    return texts.LIMITS_BELOW.format(high=metric.show(high or 0.0))


def _meant(session: Session, metric: Metric | None) -> str:
    """ "Did you mean ...?" with the amount the target check found reasonable, if any."""
    if metric is None or session.problem not in ("out_of_bounds", "far_beyond"):
        return ""
    try:
        amount = float(session.problem_detail)
    except ValueError:
        return ""
    change = {
        "to": f"to {metric.show(amount)}",
        "relative": f"by {amount:g}%",
        "points": f"by {amount:g}" + (" points" if metric.unit == "percent" else ""),
    }.get(str(session.draft.change), "")
    return texts.DID_YOU_MEAN.format(change=change) if change else ""


def _understood(session: Session, workspace: Workspace) -> tuple[str, ...]:
    draft = session.draft
    parts = []
    if draft.metric:
        parts.append(f"metric {draft.metric}")
    if draft.direction:
        parts.append(draft.direction.value)
    if draft.amount is not None and draft.change:
        parts.append(
            {
                "to": f"to {draft.amount:g}",
                "relative": f"by {draft.amount:g}% relative",
                "points": f"by {draft.amount:g}",
                "percent_ambiguous": f"by {draft.amount:g}%",
            }[draft.change.value]
        )
    if draft.deadline:
        parts.append(f"deadline {day(draft.deadline)}")
    if draft.budget is not None:
        parts.append(f"budget {money(workspace, draft.budget)}")
    return (texts.UNDERSTOOD.format(summary=", ".join(parts)),) if parts else ()


def approval_card(
    approval: Approval, step: Step, outcome: Outcome, workspace: Workspace, *, mention: bool = False
) -> Card:
    """The approval's card, wherever it is shown: the outcome's conversation, the approvals
    channel, direct messages, a Teams refresh, a reminder. It concerns its approvers and its
    outcome's owner; with `mention`, a pending one mentions its approvers (a Slack mention
    notifies them). Decided, it says by whom instead of offering the decision."""
    lines, literal = _approval_lines(approval, step, outcome, workspace)
    decided = _decided(approval, workspace)
    pending = approval.status is ApprovalStatus.PENDING
    return Card(
        title=texts.APPROVAL_TITLE.format(what=approval.what),
        lines=lines,
        fields=_approval_fields(approval, step, outcome, workspace),
        buttons=() if decided else _approval_buttons(approval, step, workspace),
        footer=decided or f"Step {step.id} · policy: {step.decision}",
        literal=literal,
        mentions=approval.approvers if mention and pending else (),
        concerns=tuple(dict.fromkeys((*approval.approvers, *outcome.approvers, outcome.owner))),
    )


def named_on_approval(approval: Approval) -> tuple[str, ...]:
    """Whom an approval's card names, to know them by name first: its approvers, and who
    decided it."""
    return (*approval.approvers, approval.decided_by or "")


def decision_buttons(approval_id: str, *, naming: bool = False) -> tuple[Button, ...]:
    """Approve and Reject (with a reason) for one approval; `naming` the approval in their
    labels, for a card that lists several."""
    named = f" {approval_id}" if naming else ""
    return (
        Button(f"Approve{named}", "approve", approval_id, "primary"),
        Button(f"Reject{named}", "reject", approval_id, "danger", asks_reason=True),
    )


def _approval_fields(
    approval: Approval, step: Step, outcome: Outcome, workspace: Workspace
) -> tuple[tuple[str, str], ...]:
    fields = [
        reasoning(approval.why, by_model=step.play == LLM_PLAY),
        impact(approval.expected_impact),
        ("Cost", money(workspace, approval.cost)),
        ("Audience", effects.audience(step, workspace, _counter(workspace, step, outcome))),
        ("Decide by", when(approval.deadline)),
        ("Approvers", approvers(approval, workspace)),
    ]
    if not quorum.is_single(approval):
        fields.append(("Approvals", quorum_line(approval, workspace)))
    for edit in approval.edits:  # the card shows what was changed, and by whom
        who = texts.EDITED_BY.format(who="@" + workspace.display(edit.by))
        fields.append((who, "; ".join(diff(edit))[:1500]))
    if step.params:
        fields.insert(0, ("Parameters", ", ".join(f"{k}={v}" for k, v in step.params.items())))
    return tuple(fields)


def _approval_lines(
    approval: Approval, step: Step, outcome: Outcome, workspace: Workspace
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The card's lines, and which of them are literal (the draft, shown as written)."""
    draft = step.output.get("upstream", {}).get("draft") or step.output.get("draft")
    lines = [f"Outcome {outcome.id}: {outcome.objective}"]
    literal: tuple[int, ...] = ()
    if draft:
        lines.append(texts.DRAFT_HEADING)
        literal = (len(lines),)
        lines.append(str(draft))
    rows = rows_noun(workspace, step.action, outcome.metric)
    lines += effects.evidence_line(approval, step, outcome, workspace, rows)
    lines += effects.effect_lines(step, outcome, workspace)
    return tuple(lines), literal


def _approval_buttons(approval: Approval, step: Step, workspace: Workspace) -> tuple[Button, ...]:
    buttons = decision_buttons(approval.id)
    if editable(step, workspace):
        buttons += (Button(texts.EDIT_BUTTON, "edit", approval.id),)
    return buttons


def _counter(workspace: Workspace, step: Step, outcome: Outcome) -> Callable[[int], str]:
    plural = rows_noun(workspace, step.action, outcome.metric)
    return lambda count: counted(count, plural)


def approvers(approval: Approval, workspace: Workspace) -> str:
    """The approvers, naming who decides for those away: "@alice (away: @bob decides)"."""
    named = []
    for user in approval.approvers:
        who = "@" + workspace.display(user)
        stand_in = approval.stand_ins.get(user)
        if stand_in and approval.status is ApprovalStatus.PENDING:
            who = texts.STOOD_IN.format(who=who, by="@" + workspace.display(stand_in))
        named.append(who)
    return ", ".join(named)


def voters(approval: Approval, workspace: Workspace, approved: bool = True) -> str:
    """Who decided, naming a delegate with whom they decided for: "@bob for @alice"."""
    named = []
    for vote in approval.votes:
        if vote.approve is approved:
            who = "@" + workspace.display(vote.voter)
            if vote.counts_for != vote.voter:
                who = texts.ON_BEHALF.format(who=who, of="@" + workspace.display(vote.counts_for))
            named.append(who)
    return ", ".join(named)


def quorum_line(approval: Approval, workspace: Workspace) -> str:
    """Who has approved and who is still awaited, for an approval that needs several."""
    yes = quorum.approved_by(approval)
    by = texts.QUORUM_BY.format(who=voters(approval, workspace)) if yes else ""
    groups = [
        texts.QUORUM_GROUP.format(group=name)
        for name, members in approval.groups.items()
        if not set(yes) & set(members)
    ]
    waiting = quorum.awaited(approval)
    if approval.status is not ApprovalStatus.PENDING or quorum.met(approval):
        awaiting = "nobody"
    elif waiting:
        awaiting = people(workspace, waiting) + (f" ({', '.join(groups)})" if groups else "")
    else:
        awaiting = texts.QUORUM_NOBODY
    needed = max(approval.needed, len(yes) + len(groups))
    return texts.QUORUM_PROGRESS.format(have=len(yes), needed=needed, by=by, awaiting=awaiting)


def withdrawal(approval: Approval, workspace: Workspace) -> dict[str, str]:
    """How a withdrawn approval's outcome ended and by whom: `status` and `by`."""
    because = withdrawn_because(approval) or ""
    by = approval.decided_by
    return {
        "status": because.removeprefix("outcome ") or "ended",
        "by": texts.WITHDRAWN_BY.format(who="@" + workspace.display(by)) if by else "",
    }


def _decided(approval: Approval, workspace: Workspace) -> str:
    if withdrawn_because(approval) is not None:
        return texts.WITHDRAWN.format(**withdrawal(approval, workspace))
    approved = approval.status is ApprovalStatus.APPROVED
    decisive = [v for v in approval.votes if v.approve is approved]
    if approval.status is ApprovalStatus.EXPIRED or not decisive:
        who = "@" + workspace.display(approval.decided_by or "policy")
    elif approved:
        who = voters(approval, workspace)
    else:
        who = voters(approval.model_copy(update={"votes": decisive[-1:]}), workspace, False)
    at = approval.decided_at.strftime("%H:%M") if approval.decided_at else ""
    if approval.status is ApprovalStatus.APPROVED:
        return texts.APPROVED_BY.format(who=who, when=at)
    if approval.status is ApprovalStatus.REJECTED:
        return texts.REJECTED_BY.format(who=who, when=at, reason=approval.reason)
    if approval.status is ApprovalStatus.EXPIRED:
        return texts.EXPIRED.format(when=at, reason=approval.reason)
    return ""


def progress_card(
    outcome: Outcome,
    evaluation: Evaluation | None,
    steps: Sequence[Step],
    workspace: Workspace,
    spent: float,
    cases: CaseStats | None = None,
) -> Card:
    metric = workspace.metrics[outcome.metric]
    fields = [
        ("Target", f"{metric.show(outcome.target)} by {day(outcome.deadline)}"),
        ("Baseline", metric.show(outcome.baseline)),
        ("Budget", f"{money(workspace, spent)} of {money(workspace, outcome.budget)}"),
    ]
    if outcome.kind is OutcomeKind.STANDING:
        target = texts.STANDING_TARGET.format(
            target=metric.show(outcome.target), sla=span(outcome.sla_s)
        )
        fields = [("Target", target), ("Cases", case_lines(cases))]
    if evaluation is not None:
        fields.insert(
            0,
            (
                "Now",
                (
                    f"{metric.show(evaluation.value)} within SLA · "
                    if outcome.kind is OutcomeKind.STANDING
                    else f"{metric.show(evaluation.value)} (line expects "
                    f"{metric.show(evaluation.expected)}) · "
                )
                + verdict(outcome, evaluation),
            ),
        )
    split = effects.explained_field(outcome, evaluation.value, steps) if evaluation else None
    if split is not None and outcome.kind is OutcomeKind.TARGET:
        fields.append(split)
    in_flight = [
        f"{s.id} {s.action} ({s.status.value.replace('_', ' ')})"
        for s in steps
        if s.status in IN_FLIGHT
    ]
    if in_flight:
        fields.append(("In flight", "; ".join(in_flight)))
    shadow = texts.SHADOW if outcome.shadow else ""
    return Card(
        title=f"{shadow}Outcome {outcome.id} · {outcome.status.value}: {outcome.objective}",
        fields=tuple(fields),
        progress=share(evaluation.progress) if evaluation else 0.0,
    )


def share(progress: float) -> float:
    """Progress for a bar: within 0..1, and never a negative zero (shown as "-0%")."""
    return max(0.0, min(1.0, progress)) + 0.0


def verdict(outcome: Outcome, evaluation: Evaluation) -> str:
    """Where the outcome stands, in words. A paused or stopped outcome says so (it is not
    moving toward anything); one still at its baseline before its second check is just
    starting, not at risk (the line has moved on by less than one check's worth)."""
    if outcome.status in (OutcomeStatus.PAUSED, OutcomeStatus.STOPPED):
        return texts.VERDICT_HALTED[outcome.status.value]
    if evaluation.verdict in (Verdict.AT_RISK, Verdict.OFF_TRACK) and _starting(
        outcome, evaluation
    ):
        return texts.VERDICT_STARTING
    return texts.VERDICTS[evaluation.verdict.value]


def _starting(outcome: Outcome, evaluation: Evaluation) -> bool:
    if outcome.kind is OutcomeKind.STANDING or evaluation.value != outcome.baseline:
        return False
    distance = outcome.target - outcome.baseline
    span_s = (outcome.deadline - outcome.started_at).total_seconds()
    if distance == 0 or span_s <= 0:
        return False
    elapsed = (evaluation.expected - outcome.baseline) / distance * span_s
    return elapsed < outcome.check_every_s


def step_line(step: Step, outcome: Outcome, workspace: Workspace) -> str:
    credit = effects.step_effect(step, outcome, workspace)
    who = "auto" if step.decision.startswith("auto") else "human"
    return f"{step.id} {step.action} [{step.status.value}, {who}]{credit}"


def report_card(
    outcome: Outcome, evaluation: Evaluation, steps: Sequence[Step], workspace: Workspace
) -> Card:
    metric = workspace.metrics[outcome.metric]
    ran = [s for s in steps if s.status in (StepStatus.SUCCEEDED, StepStatus.FAILED)]
    auto = sum(1 for s in ran if s.decision.startswith("auto"))
    decided = [
        s
        for s in steps
        if s.status in (StepStatus.REJECTED,) or (s in ran and not s.decision.startswith("auto"))
    ]
    lines = [
        f"{metric.show(outcome.baseline)} -> {metric.show(evaluation.value)} "
        f"(target {metric.show(outcome.target)})"
    ]
    lines += [
        step_line(s, outcome, workspace) for s in steps if s.status is not StepStatus.CANCELLED
    ]
    lines.append(effects.explained(outcome, evaluation.value, steps, workspace))
    if ran:
        lines.append(
            texts.REPORT_AUTONOMY.format(
                auto=auto, total=len(ran), share=auto / len(ran), human=len(decided)
            )
        )
    return Card(
        title=texts.ENDED_TITLE[outcome.status.value].format(id=outcome.id),
        lines=tuple(lines),
        progress=share(evaluation.progress),
    )


def plan_card(
    outcome: Outcome,
    steps: Sequence[Step],
    plan: PlanData,
    around: Approval | None,
    workspace: Workspace,
) -> Card:
    label, said = reasoning(plan.rationale, by_model=plan.play == LLM_PLAY)
    lines = [f"{label}: {said}"]
    if around is not None:
        lines.insert(
            0,
            texts.PLAN_AROUND.format(
                who="@" + workspace.display(around.decided_by or ""), reason=around.reason
            ),
        )
    lines += [f"{s.id} {s.action}" + (f" {s.params}" if s.params else "") for s in steps]
    return Card(
        title=texts.PLAN_TITLE.format(outcome=outcome.id, play=plan.play),
        lines=tuple(lines),
    )


def reasoning(text: str, *, by_model: bool) -> tuple[str, str]:
    """The label and words of a step's rationale: the model's shown as the model's, quoted
    and unchecked (never a "why", which would state it as fact); a playbook's as its
    reasoning."""
    if by_model:
        return MODEL_REASONING, text.removeprefix(f"{MODEL_REASONING}: ") or "-"
    return texts.PLAYBOOK_REASONING, text or "-"


def impact(text: str) -> tuple[str, str]:
    """The label and words of a step's expected impact: the model's as the model's, else
    the workspace's own typical impact for the action."""
    if text.startswith(f"{MODEL_EXPECTS}: "):
        return MODEL_EXPECTS, text.removeprefix(f"{MODEL_EXPECTS}: ")
    return texts.EXPECTED_IMPACT, text or "-"


def rows_noun(workspace: Workspace, action: str, metric: str) -> str:
    """What the rows a step works on are: its action's `rows`, else its outcome's metric's,
    else plain rows."""
    declared = workspace.actions.get(action)
    measured = workspace.metrics.get(metric)
    return (declared.rows if declared else "") or (measured.rows if measured else "") or "rows"


def counted(count: int, plural: str) -> str:
    """ "40 customers", "1 customer": one drops the plural ending (workspace nouns are
    given in the plural)."""
    if count != 1:
        return f"{count} {plural}"
    if plural.endswith(("ses", "xes", "ches", "shes")):
        return f"1 {plural[:-2]}"
    return (
        f"1 {plural[:-1]}" if plural.endswith("s") and not plural.endswith("ss") else f"1 {plural}"
    )


def step_card(step: Step, failed: str = "", rows: str = "rows") -> Card:
    """`rows`: what the step's rows are (`rows_noun`)."""
    shadow = texts.SHADOW if step.shadow else ""
    if failed:
        return Card(title=shadow + texts.STEP_FAILED.format(action=step.action, detail=failed))
    output = step.output
    detail = []
    if "rows" in output:
        detail.append(counted(len(output["rows"]), rows))
    if "draft" in output and step.lane.value == "intelligence":
        detail.append("draft ready")
    receipt = output.get("receipt", {})
    if "executions" in receipt:
        noun = str(receipt.get("noun", "records"))
        verbs = texts.RECEIPT_VERBS.get(noun, texts.RECEIPT_VERBS["records"])
        detail.append(f"{verbs[bool(receipt.get('shadow'))]} {receipt['executions']} {noun}")
    if "post" in output:
        detail.append("would post to the channel" if step.shadow else "posted to the channel")
    return Card(
        title=shadow + texts.STEP_DONE.format(action=step.action, detail=", ".join(detail) or "ok")
    )


def audit_lines(events: Sequence[AuditEvent], workspace: Workspace) -> tuple[str, ...]:
    lines = []
    for event in events:
        actor = (
            event.actor
            if event.actor in ("agent", "policy", "system")
            else "@" + workspace.display(event.actor)
        )
        move = f" {event.before or '-'} -> {event.after}" if event.after else ""
        detail = ", ".join(
            f"{k}={_detail(v)}" for k, v in event.detail.items() if k not in ("params",)
        )[:160]
        lines.append(
            f"#{event.seq} {when(event.at)} {actor} {event.action} "
            f"{event.subject}{move}" + (f" ({detail})" if detail else "")
        )
    return tuple(lines)


def _detail(value: Any) -> str:
    """An audit detail as people read it: a float without binary noise (12.22, not
    12.219999999999999); the trail itself keeps the exact value."""
    if isinstance(value, float):
        return repr(round(value, 9) + 0.0)
    return str(value)
