"""`away until <day>, delegate @someone` and `back`: approvals handed over while away."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from orchestrator.people.delegation import NotEligible, deputy

from handlers import texts
from handlers.cards import Card, Reply

if TYPE_CHECKING:
    from handlers.commands import Request

_AWAY = re.compile(
    r"^until\s+(\d{4}-\d{2}-\d{2})\s*,?\s*(?:delegate\s+(?:<@(\w+)(?:\|[^>]*)?>|@([\w.-]+)))?\s*$",
    re.IGNORECASE,
)


def _private(text: str) -> Reply:
    return Reply(Card(title=text), private=True)


def _done(text: str) -> Reply:
    """Said to the person once their absence changed, which changes what waits for whom."""
    return Reply(Card(title=text), private=True, views_changed=True)


def _end_of(day: date) -> datetime:
    """Away "until" a day means through that day (UTC): back the morning after."""
    return datetime.combine(day + timedelta(days=1), time(0, tzinfo=UTC))


async def away(request: Request) -> Reply:
    found = _AWAY.match(" ".join(request.args))
    if found is None:
        return _private(texts.AWAY_USAGE)
    try:
        day = date.fromisoformat(found.group(1))
    except ValueError:
        return _private(texts.AWAY_USAGE)
    desk = request.desk
    if _end_of(day) <= desk.now():
        return _private(texts.AWAY_PAST.format(day=day.isoformat()))
    named = found.group(2) or found.group(3)
    workspace = desk.workspace(request.workspace)
    try:
        absence = await desk.away(request.actor, _end_of(day), named)
    except NotEligible as refused:
        who = "@" + workspace.display(refused.delegate)
        return _private(texts.AWAY_NOT_ELIGIBLE.format(who=who))
    chosen = deputy(absence, workspace.people)
    if chosen is None:
        return _done(texts.AWAY_NOBODY.format(day=day.isoformat()))
    delegate = "@" + workspace.display(chosen)
    return _done(texts.AWAY_SET.format(day=day.isoformat(), delegate=delegate))


async def back(request: Request) -> Reply:
    await request.desk.back(request.actor)
    return _done(texts.BACK)
