"""Pure translations of Slack payloads into the neutral Inbound and Click."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.slack.blocks import ACTION_PREFIX, REASON_BLOCK, REASON_INPUT
from handlers.cards import Click, Inbound
from orchestrator.models import ConversationRef, MessageRef

Payload = dict[str, Any]
PLATFORM = "slack"
_MENTION = re.compile(r"<@[A-Z0-9]+>\s*")


def conversation(team: str, channel: str, thread: str | None = None) -> ConversationRef:
    return ConversationRef(platform=PLATFORM, workspace=team, channel=channel, thread=thread)


def from_command(body: Payload, thread: str | None = None) -> Inbound:
    """A slash command (`/outcome ...`); `thread` is where the conversation goes on."""
    return Inbound(
        conversation=conversation(body["team_id"], body["channel_id"], thread),
        user=body["user_id"],
        text=body.get("text", ""),
        delivery_id=f"slack:{body['team_id']}:{body['trigger_id']}",
    )


def from_event(body: Payload) -> Inbound | None:
    """A mention or a message, or None for what Baton must not answer (its own posts)."""
    event = body["event"]
    if event.get("bot_id") or event.get("subtype") or "user" not in event:
        return None
    team = body.get("team_id") or event.get("team", "")
    if event["type"] == "app_mention":
        thread = event.get("thread_ts") or event["ts"]
    else:
        thread = event.get("thread_ts")
    return Inbound(
        conversation=conversation(team, event["channel"], thread),
        user=event["user"],
        text=_MENTION.sub("", event.get("text", "")).strip(),
        delivery_id=f"slack:{team}:{body['event_id']}",
    )


def is_direct(body: Payload) -> bool:
    return bool(body["event"].get("channel_type") == "im")


def from_action(body: Payload) -> Click:
    """A button press on a message Baton posted."""
    action = body["actions"][0]
    team = body["team"]["id"]
    channel = body["channel"]["id"]
    message = body.get("message") or {}
    where = conversation(team, channel, message.get("thread_ts"))
    return Click(
        conversation=where,
        user=body["user"]["id"],
        action=action["action_id"].removeprefix(ACTION_PREFIX),
        value=action["value"],
        message=MessageRef(conversation=where, message_id=message["ts"]) if message else None,
        delivery_id=f"slack:{team}:{action['action_ts']}:{body['user']['id']}",
    )


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
    view = body["view"]
    meta = json.loads(view["private_metadata"])
    team = body["team"]["id"]
    where = conversation(team, meta["channel"], meta["thread"] or None)
    reason = view["state"]["values"][REASON_BLOCK][REASON_INPUT]["value"] or ""
    message = (
        MessageRef(conversation=where, message_id=meta["message"]) if meta["message"] else None
    )
    return Click(
        conversation=where,
        user=body["user"]["id"],
        action="reject",
        value=meta["approval"],
        reason=reason,
        message=message,
        delivery_id=f"slack:{team}:view:{view['id']}",
    )
