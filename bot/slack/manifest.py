"""The Slack app manifest: one paste creates the app with everything Baton needs."""

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


def manifest(base_url: str, *, name: str = "Baton") -> dict[str, Any]:
    """A manifest whose request URLs all point at `<base_url>/slack/events`."""
    url = base_url.rstrip("/") + "/slack/events"
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
            "slash_commands": [
                {
                    "command": "/outcome",
                    "url": url,
                    "description": "State an outcome, or list | status | pause | resume | stop",
                    "usage_hint": "Cut monthly churn by 2% by the end of Q1",
                    "should_escape": False,
                }
            ],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {"request_url": url, "bot_events": list(BOT_EVENTS)},
            "interactivity": {"is_enabled": True, "request_url": url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(base_url: str) -> str:
    return "_metadata:\n  major_version: 1\n  minor_version: 1\n" + yaml.safe_dump(
        manifest(base_url), sort_keys=False
    )
