"""`edit a3 percent=10` or `edit a3 <new draft>`: correct a step, then approve it.

`apply_edit` is the one path every surface takes (this command, Slack's modal, Teams'
input card): the core checks schema, policy and budget again and refuses non-approvers as
it refuses their clicks; the surface only shows the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.approvals.decide import AlreadyDecided, AlreadyVoted
from orchestrator.approvals.edits import Change, EditRefused, diff
from orchestrator.errors import NotAllowed, NotFound
from orchestrator.people.actors import Actor
from orchestrator.runtime.desk import Desk

from handlers import texts
from handlers.cards import Card, Reply

if TYPE_CHECKING:
    from handlers.commands import Request

_EDIT = re.compile(r"\bedit\s+(\S+)\s+(.+)$", re.IGNORECASE | re.DOTALL)
_SETTING = re.compile(r"^(\w+)=(\S+)$")


@dataclass(frozen=True)
class Edited:
    """What an edit came to: approved as edited (`done`), or refused and why."""

    done: bool
    text: str
    field: str | None = None
    """The parameter (or `edits.DRAFT`) a refusal is about, when it is about one."""


def _private(text: str) -> Reply:
    return Reply(Card(title=text), private=True)


def change_of(text: str) -> Change:
    """Parameters when every word is `name=value`; otherwise the text is the new draft
    (kept exactly as written, line breaks included)."""
    settings = [_SETTING.match(word) for word in text.split()]
    if settings and all(settings):
        return Change(params={m.group(1): m.group(2) for m in settings if m is not None})
    return Change(params={}, draft=text.strip())


async def edit(request: Request) -> Reply:
    found = _EDIT.search(request.inbound.text)
    if found is None:
        return _private(texts.EDIT_USAGE)
    approval_id, change = found.group(1).lower(), change_of(found.group(2))
    return _private((await apply_edit(request.desk, request.actor, approval_id, change)).text)


def refused(why: str, field: str | None = None) -> Edited:
    return Edited(False, texts.EDIT_REFUSED.format(why=why), field)


async def apply_edit(desk: Desk, actor: Actor, approval_id: str, change: Change) -> Edited:
    """`actor` approves `approval_id` as `change` corrects it, through `Approvals.decide`."""
    try:
        approval = await desk.decide(approval_id, actor, True, change=change)
    except EditRefused as refusal:
        return refused(refusal.why, refusal.field)
    except NotAllowed:
        current = await desk.approval(approval_id)
        workspace = desk.workspace(current.workspace)
        who = ", ".join("@" + workspace.display(a) for a in current.approvers)
        return Edited(False, texts.NOT_APPROVER.format(outcome=current.outcome_id, approvers=who))
    except AlreadyDecided as already:
        return refused(texts.EDIT_DECIDED.format(status=already.approval.status.value))
    except AlreadyVoted:
        return refused(texts.EDIT_VOTED)
    except NotFound:  # gone, or another tenant's: nothing is revealed
        return Edited(False, texts.EDIT_GONE)
    changes = "\n".join(diff(approval.edits[-1])) if approval.edits else ""
    return Edited(True, texts.EDITED.format(id=approval_id, changes=changes))
