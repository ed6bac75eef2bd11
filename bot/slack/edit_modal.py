"""Edit, then approve, in Slack: the approval card's Edit button opens a modal with the
step's parameters (typed inputs within the action's schema) and its draft; submitting it
approves the edited version through the same path as `edit aN ...`.

The modal opens beside the click's acknowledgement (its trigger id lives 3 seconds). The
submission is decided on the request itself, since only its answer can show a refusal
next to the input it is about (`response_action: errors`): a few Redis reads and one
commit, as `/outcome edit` takes. The card is updated by the decision's notice, as for a
click; the approver is told privately where the card is.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import inbound
from bot.slack.blocks import escape, section
from bot.slack.inbound import Malformed, Payload
from bot.slack.work import enqueue_answer
from handlers import texts
from handlers.cards import Card, Click, Reply
from handlers.conversation import Conversation, actor_of, transient
from handlers.edit_command import Edited
from handlers.edit_form import DRAFT_LIMIT, EditField, EditForm, NotEditable, load_form, submit
from orchestrator.approvals.edits import DRAFT
from orchestrator.runtime.queue import JobQueue

log = logging.getLogger("baton.slack")
Block = dict[str, Any]

EDIT_CALLBACK = "baton_edit"
PARAM_BLOCK = "param:"
"""A parameter's input block is `param:<name>`; the draft's is `draft`."""
VALUE = "value"
TITLE_LIMIT = 24  # Slack refuses a modal title over 24 characters
ERROR_LIMIT = 300


def edit_view(form: EditForm, metadata: dict[str, str]) -> Block:
    """The modal: one typed input per parameter, then the draft."""
    blocks = [section(escape(texts.EDIT_INTRO.format(what=form.what)))]
    blocks += [_param_input(field) for field in form.fields]
    if form.draft is not None:
        blocks.append(_draft_input(form.draft))
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": json.dumps(metadata, sort_keys=True),
        "title": _plain(texts.EDIT_TITLE.format(id=form.approval_id)[:TITLE_LIMIT]),
        "submit": _plain(texts.EDIT_SUBMIT),
        "close": _plain(texts.EDIT_CANCEL),
        "blocks": blocks,
    }


def notice_view(text: str) -> Block:
    """A modal that only says why there is nothing to edit."""
    return {
        "type": "modal",
        "title": _plain(texts.EDIT_BUTTON),
        "close": _plain(texts.EDIT_CANCEL),
        "blocks": [section(escape(text))],
    }


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text}


def _param_input(field: EditField) -> Block:
    block: Block = {
        "type": "input",
        "block_id": PARAM_BLOCK + field.name,
        "label": _plain(field.name),
        "element": _element(field),
    }
    hint = _hint(field)
    if hint:
        block["hint"] = _plain(hint)
    return block


def _element(field: EditField) -> Block:
    if field.kind in ("integer", "number"):
        element: Block = {
            "type": "number_input",
            "action_id": VALUE,
            "is_decimal_allowed": field.kind == "number",
            "initial_value": field.value,
        }
        for key, bound in (("min_value", field.minimum), ("max_value", field.maximum)):
            if bound is not None:
                element[key] = f"{bound:g}"
        return element
    if field.kind == "boolean":
        options = [_option(texts.EDIT_YES), _option(texts.EDIT_NO)]
        chosen = [o for o in options if o["value"] == field.value]
        element = {"type": "static_select", "action_id": VALUE, "options": options}
        return {**element, "initial_option": chosen[0]} if chosen else element
    return {"type": "plain_text_input", "action_id": VALUE, "initial_value": field.value}


def _option(value: str) -> Block:
    return {"text": _plain(value), "value": value}


def _hint(field: EditField) -> str:
    bounds = [
        f"{word} {bound:g}"
        for word, bound in (("at least", field.minimum), ("at most", field.maximum))
        if bound is not None
    ]
    return "; ".join(part for part in (field.description, ", ".join(bounds)) if part)


def _draft_input(draft: str) -> Block:
    return {
        "type": "input",
        "block_id": DRAFT,
        "label": _plain(texts.EDIT_DRAFT_LABEL),
        "element": {
            "type": "plain_text_input",
            "action_id": VALUE,
            "multiline": True,
            "initial_value": draft[:DRAFT_LIMIT],
            "max_length": DRAFT_LIMIT,
        },
    }


def submitted_values(body: Payload) -> tuple[dict[str, str], str | None]:
    """What the person left in each input: parameters by name, and the draft."""
    view = body.get("view")
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        raise Malformed("view.state.values must be an object")
    params: dict[str, str] = {}
    draft = None
    for block_id, block in values.items():
        value = _value(block.get(VALUE) if isinstance(block, dict) else None)
        if block_id == DRAFT:
            draft = value
        elif isinstance(block_id, str) and block_id.startswith(PARAM_BLOCK):
            params[block_id.removeprefix(PARAM_BLOCK)] = value or ""
    return params, draft


def _value(element: object) -> str | None:
    """An input's value: typed text or a number as text, or the chosen option's value."""
    if not isinstance(element, dict):
        raise Malformed("an input's state must be an object")
    chosen = element.get("selected_option")
    value = chosen.get("value") if isinstance(chosen, dict) else element.get(VALUE)
    if value is not None and not isinstance(value, str):
        raise Malformed("an input's value must be a string")
    return value


def is_edit_submission(body: Payload) -> bool:
    view = body.get("view")
    callback = view.get("callback_id") if isinstance(view, dict) else None
    return body.get("type") == "view_submission" and callback == EDIT_CALLBACK


def check(body: Payload) -> None:
    """At the door: `Malformed` unless an edit submission holds what `submitted` reads."""
    if is_edit_submission(body):
        inbound.view_click(body, "edit")
        submitted_values(body)


def errors_for(form: EditForm | None, edited: Edited) -> dict[str, str]:
    """A refusal shown under the input it is about, else under the first input."""
    blocks = [PARAM_BLOCK + f.name for f in form.fields] if form else []
    blocks += [DRAFT] if form and form.draft is not None else []
    named = PARAM_BLOCK + edited.field if edited.field and edited.field != DRAFT else edited.field
    block = named if named in blocks else (blocks[0] if blocks else DRAFT)
    return {block: edited.text[:ERROR_LIMIT]}


class EditModal:
    """The Edit button's listener (open the modal) and the modal's (apply the edit)."""

    def __init__(self, conversation: Conversation, queue: JobQueue) -> None:
        self.conversation = conversation
        self.queue = queue

    async def open(self, client: AsyncWebClient, trigger_id: str, click: Click) -> None:
        """The edit modal for the clicked approval, or a modal saying why there is none;
        `client` is Bolt's for the request (it carries the clicking team's token)."""
        try:
            form = await load_form(self.conversation.desk, actor_of(click), click.value)
            view = edit_view(form, inbound.modal_metadata(click))
        except NotEditable as gone:
            view = notice_view(gone.text)
        await client.views_open(trigger_id=trigger_id, view=view)

    async def submitted(self, ack: AsyncAck, body: Payload) -> None:
        """Apply the edit; close the modal when it is approved, else show why not in it."""
        click = inbound.view_click(body, "edit")
        params, draft = submitted_values(body)
        form: EditForm | None = None
        try:
            desk = self.conversation.desk
            form, edited = await submit(desk, actor_of(click), click.value, params, draft)
        except Exception as error:
            if not transient(error):
                raise
            edited = Edited(False, texts.BUSY)
        if not edited.done:
            await ack(response_action="errors", errors=errors_for(form, edited))
            return
        await ack()
        reply = Reply(Card(title=edited.text), private=not inbound.answered_directly(click))
        await enqueue_answer(self.queue, click, [reply])
