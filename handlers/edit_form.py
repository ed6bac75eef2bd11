"""The edit form: a step's editable parameters (typed as the action's schema says) and its
draft, for a surface to show as inputs (Slack's modal, Teams' input card), and what a
submitted form asks to change; `submit` applies it through `edit_command.apply_edit`, the
path `edit` takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from orchestrator.approvals.edits import Change, diff, draft_of
from orchestrator.errors import NotFound
from orchestrator.models import ApprovalStatus, Step
from orchestrator.people.actors import Actor
from orchestrator.runtime.desk import Desk
from orchestrator.workspace.catalog import Workspace

from handlers import texts
from handlers.edit_command import Edited, apply_edit

DRAFT_LIMIT = 3_000
"""Characters a draft input takes at most (Slack's plain-text input holds 3,000)."""


@dataclass(frozen=True)
class EditField:
    """One parameter as an input: its type, bounds, and its value now, as text."""

    name: str
    kind: Literal["integer", "number", "string", "boolean"]
    value: str
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


@dataclass(frozen=True)
class EditForm:
    approval_id: str
    what: str
    fields: tuple[EditField, ...]
    draft: str | None
    """The draft the step sends, or None when it sends none (no draft input then)."""


class NotEditable(Exception):
    """No form: the approval is decided, gone or another tenant's; `text` says so."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def as_text(value: object) -> str:
    """A parameter's value as an input shows it (`true`, not Python's `True`)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def form_of(step: Step, workspace: Workspace, approval_id: str, what: str) -> EditForm:
    """The form for `step`: the parameters its action's schema names, and its draft."""
    action = workspace.actions.get(step.action)
    specs = action.parameters if action is not None else {}
    fields = tuple(
        EditField(
            name=name,
            kind=spec.type,
            value=as_text(step.params.get(name, "")),
            minimum=spec.minimum,
            maximum=spec.maximum,
            description=spec.description,
        )
        for name, spec in specs.items()
    )
    draft = draft_of(step)
    return EditForm(approval_id, what, fields, draft if draft and draft.strip() else None)


def editable(step: Step, workspace: Workspace) -> bool:
    """Whether a step has anything an approver may edit (a parameter, a draft)."""
    form = form_of(step, workspace, "", "")
    return bool(form.fields or form.draft)


async def load_form(desk: Desk, actor: Actor, approval_id: str) -> EditForm:
    """The form of a pending approval of `actor`'s tenant; `NotEditable` otherwise. Who may
    edit is checked when the form is submitted, as for a click."""
    try:
        approval, step, _ = await desk.approval_for(actor, approval_id)
    except NotFound:
        raise NotEditable(texts.EDIT_GONE) from None
    if approval.status is not ApprovalStatus.PENDING:
        why = texts.EDIT_DECIDED.format(status=approval.status.value)
        raise NotEditable(texts.EDIT_REFUSED.format(why=why))
    return form_of(step, desk.workspace(approval.workspace), approval.id, approval.what)


def change_from(form: EditForm, values: Mapping[str, str], draft: str | None) -> Change | None:
    """What a submitted form asks: the parameters whose value differs from the form's, and
    the draft if it differs; None when nothing was changed."""
    params = {
        field.name: values[field.name].strip()
        for field in form.fields
        if field.name in values and values[field.name].strip() != field.value
    }
    new_draft = None
    if draft is not None and form.draft is not None and draft.strip() != form.draft.strip():
        new_draft = draft
    if not params and new_draft is None:
        return None
    return Change(params=params, draft=new_draft)


async def submit(
    desk: Desk, actor: Actor, approval_id: str, values: Mapping[str, str], draft: str | None
) -> tuple[EditForm | None, Edited]:
    """Apply a submitted form: the form it was (None once there is none), and the answer.
    The same submission run again (a redelivery) answers as the first run did."""
    try:
        form = await load_form(desk, actor, approval_id)
    except NotEditable as gone:
        if await desk.done_before(actor):
            return None, await _edited_before(desk, approval_id)
        return None, Edited(False, gone.text)
    change = change_from(form, values, draft)
    if change is None:
        return form, Edited(False, texts.EDIT_UNCHANGED)
    return form, await apply_edit(desk, actor, approval_id, change)


async def _edited_before(desk: Desk, approval_id: str) -> Edited:
    approval = await desk.approval(approval_id)
    changes = "\n".join(diff(approval.edits[-1])) if approval.edits else ""
    return Edited(True, texts.EDITED.format(id=approval_id, changes=changes))
