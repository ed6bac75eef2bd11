"""Edit, then approve, in Teams: the approval card's Edit action is answered with an input
card (Input.Number, Input.ChoiceSet and Input.Text for the step's parameters as the
action's schema types them, Input.Text for the draft), whose Action.Execute approves the
edited version through the same path as `edit aN ...`. A refusal is answered with the
input card again, saying why above the inputs, with what the person typed kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.teams.adaptive import REFRESH_VERB, SCHEMA
from handlers import texts
from handlers.conversation import Conversation
from handlers.edit_form import DRAFT_LIMIT, EditField, EditForm, NotEditable, load_form, submit
from orchestrator.approvals.edits import DRAFT
from orchestrator.people.actors import Actor

EDIT_VERB = "edit"
"""The approval card's Edit action: answered with the input card."""
SUBMIT_VERB = "edit_submit"
"""The input card's action: approve the edited version."""
EDIT_VERBS = (EDIT_VERB, SUBMIT_VERB)
PARAM_INPUT = "param_"
"""A parameter's input id is `param_<name>`; the draft's is `draft`."""

Json = dict[str, Any]


def input_card(form: EditForm, error: str = "", typed: Mapping[str, str] | None = None) -> Json:
    """The input card for `form`; `error` above the inputs, `typed` the values to keep."""
    kept = typed or {}
    body: list[Json] = [
        _text(texts.EDIT_TITLE.format(id=form.approval_id), weight="Bolder", size="Medium"),
        _text(texts.EDIT_INTRO.format(what=form.what)),
    ]
    if error:
        body.append(_text(error, color="Attention"))
    body += [_input(field, kept.get(field.name, field.value)) for field in form.fields]
    if form.draft is not None:
        body.append(
            {
                "type": "Input.Text",
                "id": DRAFT,
                "label": texts.EDIT_DRAFT_LABEL,
                "isMultiline": True,
                "maxLength": DRAFT_LIMIT,
                "value": kept.get(DRAFT, form.draft)[:DRAFT_LIMIT],
            }
        )
    actions = [
        _execute(SUBMIT_VERB, form.approval_id, texts.EDIT_SUBMIT, "positive"),
        _execute(REFRESH_VERB, form.approval_id, texts.EDIT_CANCEL, "default"),
    ]
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "body": body,
        "actions": actions,
    }


def notice_card(text: str) -> Json:
    """A card that only says why there is nothing to edit."""
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": [_text(text)]}


def _input(field: EditField, value: str) -> Json:
    label = field.name + (f" ({field.description})" if field.description else "")
    common = {"id": PARAM_INPUT + field.name, "label": label, "isRequired": True}
    if field.kind in ("integer", "number"):
        number: Json = {"type": "Input.Number", **common}
        number["value"] = _number(value, field.kind)
        for key, bound in (("min", field.minimum), ("max", field.maximum)):
            if bound is not None:
                number[key] = bound
        return number
    if field.kind == "boolean":
        choices = [{"title": v, "value": v} for v in (texts.EDIT_YES, texts.EDIT_NO)]
        return {"type": "Input.ChoiceSet", **common, "choices": choices, "value": value}
    return {"type": "Input.Text", **common, "value": value}


def _number(text: str, kind: str) -> float | int | str:
    """A number input's value as a number (what the card shows), or the text as typed."""
    try:
        return int(text) if kind == "integer" else float(text)
    except ValueError:
        return text


def submitted(data: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    """The inputs' values from an Action.Execute's data, as text."""
    params = {
        key.removeprefix(PARAM_INPUT): _as_text(value)
        for key, value in data.items()
        if isinstance(key, str) and key.startswith(PARAM_INPUT)
    }
    draft = data.get(DRAFT)
    return params, draft if isinstance(draft, str) else None


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _execute(verb: str, value: str, title: str, style: str) -> Json:
    data = {"baton": verb, "value": value}
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": data, "style": style}


def _text(text: str, **style: object) -> Json:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


class EditCards:
    """Answers the two edit verbs: the input card, and the edit applied."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    async def answer(self, actor: Actor, verb: str, data: Mapping[str, Any]) -> Json | None:
        """The card to answer with; None once the edit is approved (the caller answers with
        the approval card as it now stands)."""
        approval_id = data.get("value")
        if not isinstance(approval_id, str):
            return notice_card(texts.EDIT_GONE)
        desk = self.conversation.desk
        if verb == EDIT_VERB:
            try:
                return input_card(await load_form(desk, actor, approval_id))
            except NotEditable as gone:
                return notice_card(gone.text)
        params, draft = submitted(data)
        form, edited = await submit(desk, actor, approval_id, params, draft)
        if edited.done:
            return None
        if form is None:
            return notice_card(edited.text)
        typed = {**params, **({DRAFT: draft} if draft is not None else {})}
        return input_card(form, edited.text, typed)
