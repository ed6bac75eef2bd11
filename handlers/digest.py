"""The weekly digest's cards: one per active outcome (progress, chart, what worked, what
waits), then the week's autonomy next to the number of human decisions, with the head of
the audit chain as it stands (posted where Redis writers cannot reach it), and the week's
approval decisions per workspace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial

from orchestrator.approvals import stats as decision_stats
from orchestrator.models import Approval, ApprovalStatus, Outcome
from orchestrator.notify.digest import WEEK, Week, audit_head, week_of
from orchestrator.notify.notices import DigestData, Notice
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.steps.govern import approval_id_for
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Workspace

from handlers import effects, render, texts
from handlers.approvals_view import stats_lines
from handlers.cards import Card
from handlers.charts import outcome_chart
from handlers.week_chart import WeekRow, week_chart


async def digest_cards(
    store: RedisStore, workspace_of: Callable[[str], Workspace], notice: Notice
) -> list[Card]:
    """Every card of one conversation's digest, charts included, in posting order: the
    summary carries the week across all outcomes, each outcome's card its own chart."""
    said = notice.carried(DigestData)
    since = said.since
    cards, weeks, rows, workspaces = [], [], [], set()
    for outcome_id in said.outcomes:
        outcome = await store.outcome(outcome_id)
        workspace = workspace_of(outcome.workspace)
        card, week, row = await _outcome_card(store, workspace, outcome, since)
        cards.append(card)
        weeks.append(week)
        rows.append(row)
        workspaces.add(outcome.workspace)
    heads = [
        texts.DIGEST_AUDIT_HEAD.format(workspace=ws, head=await audit_head(store, ws))
        for ws in sorted(workspaces)
    ]
    chart = await asyncio.to_thread(partial(week_chart, since=since, now=since + WEEK), rows)
    summary = _summary(len(cards), weeks, " ".join(heads))
    decisions = [await _decisions(store, workspace_of(ws), ws, since) for ws in sorted(workspaces)]
    return [
        replace(summary, image_png=chart.png, image_alt=chart.alt),
        *cards,
        *(card for card in decisions if card is not None),
    ]


async def _decisions(
    store: RedisStore, workspace: Workspace, tenant: str, since: datetime
) -> Card | None:
    """The week's approval decisions in the workspace: per approver, time to decide,
    expiries, escalations, edits (as `approvals stats` says them); None in a quiet week."""
    stats = await decision_stats.gather(store, tenant, since=since)
    if stats.empty:
        return None
    title = texts.DIGEST_DECISIONS.format(workspace=workspace.name)
    return Card(title=title, lines=tuple(stats_lines(stats, workspace)))


async def _outcome_card(
    store: RedisStore, workspace: Workspace, outcome: Outcome, since: datetime
) -> tuple[Card, Week, WeekRow]:
    steps = await store.steps(outcome.id)
    approvals = [
        await store.approval(approval_id_for(s.id))
        for s in steps
        if s.decision.startswith("approve")
    ]
    measurements = await store.measurements(outcome.id)
    latest = measurements[-1] if measurements else None
    evaluation = evaluate(outcome, latest.value, latest.at) if latest else None
    progress = render.progress_card(
        outcome, evaluation, steps, workspace, await store.spent(outcome.id)
    )
    # Drawing takes tens of milliseconds: off the event loop.
    chart = await asyncio.to_thread(
        partial(outcome_chart, now=since + WEEK), outcome, workspace, measurements, steps
    )
    worked = effects.worked(steps, outcome, workspace)
    pending = [a for a in approvals if a.status is ApprovalStatus.PENDING]
    lines = (
        texts.DIGEST_WORKED.format(steps="; ".join(worked))
        if worked
        else texts.DIGEST_NOTHING_MEASURED,
        *([texts.DIGEST_PENDING.format(approvals=_pending(pending, workspace))] if pending else []),
    )
    card = Card(
        title=texts.DIGEST_TITLE.format(id=outcome.id, objective=outcome.objective),
        lines=lines,
        fields=progress.fields,
        progress=progress.progress,
        image_png=chart.png,
        image_alt=chart.alt,
    )
    return card, week_of(steps, approvals, since), WeekRow(outcome, workspace, measurements, steps)


def _pending(approvals: list[Approval], workspace: Workspace) -> str:
    return "; ".join(
        f"{a.id} {a.what} ({render.people(workspace, a.approvers)}, by {render.when(a.deadline)})"
        for a in approvals
    )


def _summary(outcomes: int, weeks: list[Week], footer: str) -> Card:
    ran = sum(w.ran for w in weeks)
    auto = sum(w.auto for w in weeks)
    decisions = sum(w.decisions for w in weeks)
    line = (
        texts.DIGEST_AUTONOMY.format(auto=auto, ran=ran, share=auto / ran, decisions=decisions)
        if ran
        else texts.DIGEST_QUIET.format(decisions=decisions)
    )
    return Card(title=texts.DIGEST_SUMMARY.format(outcomes=outcomes), lines=(line,), footer=footer)
