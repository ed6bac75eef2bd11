"""The Slack app manifest: one paste creates the app with everything Baton needs.

Scopes are the ones Baton's calls use: chat.postMessage, chat.update and chat.postEphemeral
(`chat:write`), files.uploadV2 (`files:write`), the slash command (`commands`), the message
and mention events it reads (`*:history`, `app_mentions:read`), the direct message each
approver gets when the workspace file asks for it (conversations.open, `im:write`), and the
names people are shown by (users.info, `users:read`)."""

from __future__ import annotations

from typing import Any

import yaml

BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",
    "im:history",
    "im:write",
    "users:read",
)
BOT_EVENTS = ("app_home_opened", "app_mention", "message.channels", "message.groups", "message.im")
SLASH_COMMAND = "/outcome"


def manifest(base_url: str | None, *, name: str = "Baton") -> dict[str, Any]:
    """A manifest whose request URLs all point at `<base_url>/slack/events`; with no base URL,
    one for Socket Mode, where Slack sends everything over a websocket and needs no URLs."""
    url = base_url.rstrip("/") + "/slack/events" if base_url else None
    at = {"url": url} if url else {}
    command = {
        "command": SLASH_COMMAND,
        **at,
        "description": "State an outcome, or list | status | pause | resume | stop",
        "usage_hint": "Cut monthly churn by 2% by the end of Q1",
        "should_escape": False,
    }
    return {
        "display_information": {
            "name": name,
            "description": "Outcome orchestration: state an outcome, Baton runs the loop.",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": name.lower(), "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {
                **({"request_url": url} if url else {}),
                "bot_events": list(BOT_EVENTS),
            },
            "interactivity": {"is_enabled": True, **({"request_url": url} if url else {})},
            "org_deploy_enabled": False,
            "socket_mode_enabled": url is None,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(base_url: str | None) -> str:
    """The manifest as YAML to paste; `None` for Socket Mode."""
    return "_metadata:\n  major_version: 1\n  minor_version: 1\n" + yaml.safe_dump(
        manifest(base_url), sort_keys=False
    )
