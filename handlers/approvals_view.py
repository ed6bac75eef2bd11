"""`approvals` (or "what waits for me?"): a person's own list of what waits for them,
private, with the buttons to decide from there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.approvals import quorum
from orchestrator.approvals.stats import DecisionStats, percentile
from orchestrator.people.inbox import Waiting
from orchestrator.workspace.catalog import Workspace

from handlers import render, texts
from handlers.cards import Card, Reply

if TYPE_CHECKING:
    from handlers.commands import Request

SHOWN = 10
"""Approvals listed with their buttons at most: a chat message holds so many."""
_ASKS = ("waits for me", "is waiting for me", "waits for my decision")


async def approvals(request: Request) -> Reply:
    desk = request.desk
    if request.args[:1] == ["stats"]:
        await desk.check_workspace(request.actor)
        stats = await desk.decision_stats(request.workspace)
        return Reply(stats_card(stats, desk.workspace(request.workspace)), private=True)
    waiting = await desk.waiting_for(request.actor)
    card = waiting_card(waiting, request.user, desk.workspace(request.workspace))
    return Reply(card, private=True)


async def what(request: Request) -> Reply:
    """ "what waits for me?" in plain words; any other "what ..." is not a command."""
    asked = " ".join(request.args).lower().strip(" ?")
    if asked in _ASKS:
        return await approvals(request)
    workspace = request.desk.workspace(request.workspace)
    unknown = texts.UNKNOWN_COMMAND.format(word="what") + render.help_text(workspace)
    return Reply(Card(title=unknown), private=True)


def waiting_card(waiting: list[Waiting], user: str, workspace: Workspace) -> Card:
    if not waiting:
        return Card(title=texts.WAITING_NONE)
    shown = waiting[:SHOWN]
    lines = [_line(w, user, workspace) for w in shown]
    if len(waiting) > SHOWN:
        lines.append(texts.WAITING_SHOWN.format(shown=SHOWN))
    buttons = tuple(
        button for w in shown for button in render.decision_buttons(w.approval.id, naming=True)
    )
    title = texts.WAITING_TITLE.format(count=len(waiting))
    return Card(title=title, lines=tuple(lines), buttons=buttons)


def _line(waiting: Waiting, user: str, workspace: Workspace) -> str:
    approval = waiting.approval
    progress = "" if quorum.is_single(approval) else " · " + render.quorum_line(approval, workspace)
    on_behalf = ""
    if waiting.counts_for != user:
        on_behalf = texts.WAITING_FOR.format(who="@" + workspace.display(waiting.counts_for))
    return texts.WAITING_LINE.format(
        id=approval.id,
        what=approval.what,
        outcome=approval.outcome_id,
        when=render.when(approval.deadline),
        progress=progress,
        on_behalf=on_behalf,
    )


def stats_card(stats: DecisionStats, workspace: Workspace) -> Card:
    """Decisions per approver and per action, time to decide, expiries, escalations, edits."""
    if stats.empty:
        return Card(title=texts.STATS_NONE)
    title = texts.STATS_TITLE.format(workspace=workspace.name)
    return Card(title=title, lines=tuple(stats_lines(stats, workspace)))


def stats_lines(stats: DecisionStats, workspace: Workspace) -> list[str]:
    """The figures as lines: `approvals stats`, the weekly digest and `audit` say them."""
    overall = stats.overall
    lines = [
        texts.STATS_OVERALL.format(
            decided=overall.decided,
            approved=overall.approved,
            rejected=overall.rejected,
            expired=overall.expired,
            pending=stats.pending,
            median=render.span(percentile(overall.seconds, 0.5)),
            p90=render.span(percentile(overall.seconds, 0.9)),
        ),
        texts.STATS_EXTRAS.format(escalations=stats.escalations, edits=stats.edits),
        texts.STATS_APPROVERS,
    ]
    for user, tally in sorted(stats.approvers.items(), key=lambda item: -item[1].decided):
        lines.append(
            texts.STATS_APPROVER.format(
                who="@" + workspace.display(user),
                decided=tally.decided,
                approved=tally.approved,
                median=render.span(percentile(tally.seconds, 0.5)),
                p90=render.span(percentile(tally.seconds, 0.9)),
            )
        )
    lines.append(texts.STATS_ACTIONS)
    for what, tally in sorted(stats.actions.items()):
        rate = tally.rate
        lines.append(
            texts.STATS_ACTION.format(
                what=what,
                approved=tally.approved,
                decided=tally.decided,
                rate=texts.STATS_RATE.format(rate=rate) if rate is not None else "",
                expired=texts.STATS_EXPIRED.format(expired=tally.expired) if tally.expired else "",
            )
        )
    return lines
