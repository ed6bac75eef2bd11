"""The Slack app manifest: one paste creates the app with everything Baton needs.

Scopes are the ones Baton's calls use: chat.postMessage, chat.update and chat.postEphemeral
(`chat:write`), files.uploadV2 (`files:write`), the slash command (`commands`), the message
and mention events it reads (`*:history`, `app_mentions:read`), the direct message each
approver gets when the workspace file asks for it (conversations.open, `im:write`), and the
names people are shown by (users.info, `users:read`). With `--assistant`, Slack's assistant
container too: the `assistant_view` feature, its events and `assistant:write`
(assistant.threads.setSuggestedPrompts, setStatus and setTitle)."""

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
BOT_EVENTS = (
    "app_home_opened",
    "app_mention",
    "message.channels",
    "message.groups",
    "message.im",
    "app_uninstalled",
    "tokens_revoked",
)
"""The last two need no scope: installed into many workspaces, they remove the team's
installation (Bolt's token revocation listeners)."""
SLASH_COMMAND = "/outcome"
ASSISTANT_SCOPES = ("assistant:write",)
ASSISTANT_EVENTS = ("assistant_thread_started", "assistant_thread_context_changed")
REDIRECT_PATH = "/slack/oauth_redirect"


def bot_scopes(*, assistant: bool) -> tuple[str, ...]:
    """The scopes Baton asks for: with the assistant container, its own too."""
    return BOT_SCOPES + (ASSISTANT_SCOPES if assistant else ())


def bot_events(*, assistant: bool) -> tuple[str, ...]:
    return BOT_EVENTS + (ASSISTANT_EVENTS if assistant else ())


def manifest(
    base_url: str | None, *, name: str = "Baton", assistant: bool = False
) -> dict[str, Any]:
    """A manifest whose request URLs all point at `<base_url>/slack/events` (and whose OAuth
    redirect is `<base_url>/slack/oauth_redirect`, for installs into many workspaces); with
    no base URL, one for Socket Mode, where Slack sends everything over a websocket and
    needs no URLs. `assistant`: with Slack's assistant container."""
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
            **({"assistant_view": _assistant_view()} if assistant else {}),
        },
        "oauth_config": {
            **({"redirect_urls": [base_url.rstrip("/") + REDIRECT_PATH]} if base_url else {}),
            "scopes": {"bot": list(bot_scopes(assistant=assistant))},
        },
        "settings": {
            "event_subscriptions": {
                **({"request_url": url} if url else {}),
                "bot_events": list(bot_events(assistant=assistant)),
            },
            "interactivity": {"is_enabled": True, **({"request_url": url} if url else {})},
            "org_deploy_enabled": False,
            "socket_mode_enabled": url is None,
            "token_rotation_enabled": False,
        },
    }


def _assistant_view() -> dict[str, Any]:
    return {
        "assistant_description": "State an outcome; Baton measures, plans and asks you to decide.",
        "suggested_prompts": [],  # set per thread (assistant.threads.setSuggestedPrompts)
    }


def manifest_yaml(base_url: str | None, *, assistant: bool = False) -> str:
    """The manifest as YAML to paste; `None` for Socket Mode."""
    return "_metadata:\n  major_version: 1\n  minor_version: 1\n" + yaml.safe_dump(
        manifest(base_url, assistant=assistant), sort_keys=False
    )
