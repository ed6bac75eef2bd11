"""Pure translations of Slack payloads into the neutral Inbound and Click.

Each translation reads only fields that must be there, of the type they must have, and
raises `Malformed` (a `ValueError`: a 400) otherwise. `check` runs the translation a
payload's listener will run, at the door, before anything is acknowledged or queued, so a
payload that lacks what later work reads (a slash command without `user_id`) is refused
there instead of failing in a job after Slack was told it arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.inbound_json import Unreadable, read_object
from bot.slack.blocks import ACTION_PREFIX, REASON_BLOCK, REASON_INPUT, REJECT_CALLBACK
from handlers.cards import Click, Inbound
from orchestrator.models import ConversationRef, MessageRef

Payload = dict[str, Any]
PLATFORM = "slack"
COMMAND = "/outcome"
_MENTION = re.compile(r"<@[A-Z0-9]+>\s*")
MAX_ID_CHARS = 255


class Malformed(ValueError):
    """A Slack payload without a field Baton reads, or with one of the wrong type."""


def _id(value: object, name: str) -> str:
    """A Slack id or timestamp: a non-empty, printable, bounded string."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise Malformed(f"{name} must be a non-empty string of at most {MAX_ID_CHARS}")
    if not value.isprintable():
        raise Malformed(f"{name} holds control characters")
    return value


def _maybe_id(value: object, name: str) -> str | None:
    return None if value is None or value == "" else _id(value, name)


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise Malformed(f"{name} must be a string")
    return value


def _object(value: object, name: str) -> Payload:
    if not isinstance(value, dict):
        raise Malformed(f"{name} must be an object")
    return value


def _id_of(body: Payload, name: str) -> str:
    """`body[name]["id"]`, as Slack nests the team, user and channel of interactions."""
    return _id(_object(body.get(name), name).get("id"), f"{name}.id")


def conversation(team: str, channel: str, thread: str | None = None) -> ConversationRef:
    return ConversationRef(platform=PLATFORM, workspace=team, channel=channel, thread=thread)


def from_command(body: Payload, thread: str | None = None) -> Inbound:
    """A slash command (`/outcome ...`); `thread` is where the conversation goes on."""
    team = _id(body.get("team_id"), "team_id")
    return Inbound(
        conversation=conversation(team, _id(body.get("channel_id"), "channel_id"), thread),
        user=_id(body.get("user_id"), "user_id"),
        text=_text(body.get("text", ""), "text"),
        delivery_id=f"slack:{team}:{_id(body.get('trigger_id'), 'trigger_id')}",
    )


def from_event(body: Payload) -> Inbound | None:
    """A mention or a message, or None for what Baton must not answer (its own posts)."""
    event = _object(body.get("event"), "event")
    if event.get("bot_id") or event.get("subtype") or "user" not in event:
        return None
    team = _id(body.get("team_id") or event.get("team"), "team_id")
    thread = _maybe_id(event.get("thread_ts"), "event.thread_ts")
    if event.get("type") == "app_mention":
        thread = thread or _id(event.get("ts"), "event.ts")
    return Inbound(
        conversation=conversation(team, _id(event.get("channel"), "event.channel"), thread),
        user=_id(event["user"], "event.user"),
        text=_MENTION.sub("", _text(event.get("text", ""), "event.text")).strip(),
        delivery_id=f"slack:{team}:{_id(body.get('event_id'), 'event_id')}",
    )


def is_direct(body: Payload) -> bool:
    return bool(_object(body.get("event"), "event").get("channel_type") == "im")


def from_action(body: Payload) -> Click:
    """A button press on a message Baton posted."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise Malformed("actions must be a non-empty list")
    action = _object(actions[0], "actions[0]")
    team, user = _id_of(body, "team"), _id_of(body, "user")
    message = _object(body.get("message") or {}, "message")
    # A click in App Home comes from no channel: it is answered in the person's direct
    # messages with Baton (Slack posts to a user id there).
    channel = user if from_home(body) else _id_of(body, "channel")
    where = conversation(team, channel, _maybe_id(message.get("thread_ts"), "message.thread_ts"))
    shown_in = (
        MessageRef(conversation=where, message_id=_id(message.get("ts"), "message.ts"))
        if message
        else None
    )
    return Click(
        conversation=where,
        user=user,
        action=_id(action.get("action_id"), "action_id").removeprefix(ACTION_PREFIX),
        value=_text(action.get("value"), "actions[0].value"),
        message=shown_in,
        delivery_id=f"slack:{team}:{_id(action.get('action_ts'), 'action_ts')}:{user}",
    )


def from_home(body: Payload) -> bool:
    """A click on a button of the App Home tab (no channel, no message)."""
    view = body.get("view")
    return "channel" not in body and isinstance(view, dict) and view.get("type") == "home"


def answered_directly(click: Click) -> bool:
    """A click from App Home: its replies go to the person's direct messages, not as
    ephemeral messages (there is no channel to show them in)."""
    return click.message is None and click.conversation.channel == click.user


def modal_metadata(click: Click) -> dict[str, str]:
    """What the reject modal carries so its submission can be turned back into a Click."""
    return {
        "approval": click.value,
        "channel": click.conversation.channel,
        "thread": click.conversation.thread or "",
        "message": click.message.message_id if click.message else "",
    }


def from_view_submission(body: Payload) -> Click:
    """The reject modal's submission: a reject click with its reason."""
    return view_click(body, "reject", _reason(_object(body.get("view"), "view")))


def view_click(body: Payload, action: str, reason: str = "") -> Click:
    """A modal's submission as a click on the approval its metadata names."""
    view = _object(body.get("view"), "view")
    try:
        meta = read_object(_text(view.get("private_metadata"), "view.private_metadata"))
    except Unreadable as error:
        raise Malformed(f"view.private_metadata: {error}") from None
    team = _id_of(body, "team")
    thread = _maybe_id(meta.get("thread"), "metadata thread")
    where = conversation(team, _id(meta.get("channel"), "metadata channel"), thread)
    message = _maybe_id(meta.get("message"), "metadata message")
    return Click(
        conversation=where,
        user=_id_of(body, "user"),
        action=action,
        value=_id(meta.get("approval"), "metadata approval"),
        reason=reason,
        message=MessageRef(conversation=where, message_id=message) if message else None,
        delivery_id=f"slack:{team}:view:{_id(view.get('id'), 'view.id')}",
    )


def _reason(view: Payload) -> str:
    """What the person typed in the reject modal (nothing, when they left it empty)."""
    state = _object(view.get("state"), "view.state")
    block = _object(_object(state.get("values"), "view.state.values").get(REASON_BLOCK), "block")
    value = _object(block.get(REASON_INPUT), "input").get("value")
    return "" if value is None else _text(value, "the reason")


def _home_opened(body: Payload) -> None:
    _id(_object(body.get("event"), "event").get("user"), "event.user")


def _click(body: Payload) -> None:
    click = from_action(body)
    if click.action in ("reject", "edit"):  # the modal opens on the request's trigger
        _id(body.get("trigger_id"), "trigger_id")


def _event_type(body: Payload) -> object:
    event = body.get("event")
    if body.get("type") != "event_callback" or not isinstance(event, dict):
        return None
    return event.get("type")


def _is_command(body: Payload) -> bool:
    return body.get("command") == COMMAND


def _is_click(body: Payload) -> bool:
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    action_id = first.get("action_id") if isinstance(first, dict) else None
    return body.get("type") == "block_actions" and str(action_id).startswith(ACTION_PREFIX)


def _is_reject_reason(body: Payload) -> bool:
    view = body.get("view")
    callback = view.get("callback_id") if isinstance(view, dict) else None
    return body.get("type") == "view_submission" and callback == REJECT_CALLBACK


def _is_message(body: Payload) -> bool:
    return _event_type(body) in ("message", "app_mention")


def _is_home_opened(body: Payload) -> bool:
    return _event_type(body) == "app_home_opened"


_CHECKS: tuple[tuple[Callable[[Payload], bool], Callable[[Payload], object]], ...] = (
    (_is_command, from_command),
    (_is_click, _click),
    (_is_reject_reason, from_view_submission),
    (_is_message, from_event),
    (_is_home_opened, _home_opened),
)
"""Which listener takes a payload (as Bolt matches it), and what that listener translates."""


def check(body: Payload) -> None:
    """`Malformed` unless the listener that takes `body` can translate it: the same
    translation, run at the door."""
    for takes, translate in _CHECKS:
        if takes(body):
            translate(body)
