"""`edit a3 percent=10` or `edit a3 <new draft>`: correct a step, then approve it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from orchestrator.approvals import AlreadyDecided, AlreadyVoted
from orchestrator.edits import Change, EditRefused, diff
from orchestrator.errors import NotAllowed

from handlers import texts
from handlers.cards import Card, Reply

if TYPE_CHECKING:
    from handlers.commands import Request

_EDIT = re.compile(r"\bedit\s+(\S+)\s+(.+)$", re.IGNORECASE | re.DOTALL)
_SETTING = re.compile(r"^(\w+)=(\S+)$")


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
    approvals = request.runtime.approvals
    try:
        approval = await approvals.decide(approval_id, request.actor, True, change=change)
    except EditRefused as refused:
        return _private(texts.EDIT_REFUSED.format(why=refused.why))
    except NotAllowed:
        current = await request.runtime.ctx.store.approval(approval_id)
        workspace = request.runtime.ctx.workspace_of(current.workspace)
        who = ", ".join("@" + workspace.display(a) for a in current.approvers)
        return _private(texts.NOT_APPROVER.format(outcome=current.outcome_id, approvers=who))
    except AlreadyDecided as already:
        status = already.approval.status.value
        return _private(texts.EDIT_REFUSED.format(why=texts.EDIT_DECIDED.format(status=status)))
    except AlreadyVoted:
        return _private(texts.EDIT_REFUSED.format(why=texts.EDIT_VOTED))
    changes = "\n".join(diff(approval.edits[-1])) if approval.edits else ""
    return _private(texts.EDITED.format(id=approval_id, changes=changes))
