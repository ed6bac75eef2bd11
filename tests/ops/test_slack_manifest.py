"""`baton manifest slack`: both flavours are valid app manifests that ask only for the scopes
Baton's calls use, and Socket Mode starts without a signing secret while its HTTP route
refuses everything.

Slack publishes no JSON schema file for manifests (it validates them with the
apps.manifest.validate API), so SLACK_MANIFEST below states the constraints of Slack's
manifest reference (docs.slack.dev/reference/app-manifest) that apply to Baton's fields."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from typer.testing import CliRunner

from bot import cli_web  # noqa: F401  (registers `baton manifest slack`)
from bot.cli import app as cli
from bot.demo.simulation import Business
from bot.slack.manifest import BOT_EVENTS, BOT_SCOPES
from tests.conftest import business  # noqa: F401  (fixture)
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import sign, slack_api  # noqa: F401  (fixture)
from tests.slack.processes import Baton, baton_env, eventually, serving

ROOT = Path(__file__).parents[2]
_URL = {"type": "string", "pattern": "^https://"}
SLACK_MANIFEST: dict[str, Any] = {
    "type": "object",
    "required": ["display_information"],
    "properties": {
        "_metadata": {"type": "object"},
        "display_information": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 35},
                "description": {"type": "string", "maxLength": 140},
            },
        },
        "features": {
            "type": "object",
            "properties": {
                "bot_user": {
                    "type": "object",
                    "required": ["display_name"],
                    "properties": {
                        "display_name": {"type": "string", "pattern": "^[a-z0-9._-]{1,80}$"}
                    },
                },
                "assistant_view": {
                    "type": "object",
                    "required": ["assistant_description"],
                    "properties": {
                        "assistant_description": {"type": "string", "maxLength": 200},
                        "suggested_prompts": {
                            "type": "array",
                            "maxItems": 4,
                            "items": {
                                "type": "object",
                                "required": ["title", "message"],
                                "properties": {
                                    "title": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                    "additionalProperties": False,
                },
                "slash_commands": {
                    "type": "array",
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "required": ["command", "description"],
                        "properties": {
                            "command": {"type": "string", "pattern": "^/[a-z0-9_-]{1,31}$"},
                            "url": _URL,
                            "description": {"type": "string", "maxLength": 2000},
                            "usage_hint": {"type": "string", "maxLength": 1000},
                            "should_escape": {"type": "boolean"},
                        },
                        "additionalProperties": False,
                    },
                },
            },
        },
        "oauth_config": {
            "type": "object",
            "properties": {
                "redirect_urls": {"type": "array", "maxItems": 1000, "items": _URL},
                "scopes": {
                    "type": "object",
                    "properties": {
                        "bot": {
                            "type": "array",
                            "maxItems": 255,
                            "uniqueItems": True,
                            "items": {"type": "string", "pattern": "^[a-z_]+:[a-z_.]+$|^commands$"},
                        }
                    },
                },
            },
        },
        "settings": {
            "type": "object",
            "properties": {
                "event_subscriptions": {
                    "type": "object",
                    "properties": {
                        "request_url": _URL,
                        "bot_events": {"type": "array", "maxItems": 100, "uniqueItems": True},
                    },
                },
                "interactivity": {
                    "type": "object",
                    "required": ["is_enabled"],
                    "properties": {"is_enabled": {"type": "boolean"}, "request_url": _URL},
                },
                "socket_mode_enabled": {"type": "boolean"},
            },
        },
    },
}
EVENT_SCOPES = {
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
}
"""The scope each bot event needs (app_home_opened needs none)."""
SCOPE_CALLS = {
    "chat:write": r"chat_postMessage|chat_update|chat_postEphemeral",
    "files:write": r"files_upload_v2",
    "im:write": r"conversations_open",
    "users:read": r"users_info|users_list|users_lookupByEmail|\"users\.info\"",
}
"""Web API calls in Baton's code and the scope each needs."""


def _printed(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["manifest", "slack", *args])
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def _problems(manifest: dict[str, Any]) -> list[str]:
    """Schema errors plus the rules between fields that a schema cannot say."""
    found = [e.message for e in Draft7Validator(SLACK_MANIFEST).iter_errors(manifest)]
    settings, features = manifest["settings"], manifest["features"]
    socket = settings.get("socket_mode_enabled", False)
    events = settings.get("event_subscriptions", {})
    if not socket:
        if events.get("bot_events") and "request_url" not in events:
            found.append("event_subscriptions needs request_url outside Socket Mode")
        if (
            settings["interactivity"]["is_enabled"]
            and "request_url" not in settings["interactivity"]
        ):
            found.append("interactivity needs request_url outside Socket Mode")
        found += [f"{c['command']} needs url" for c in features["slash_commands"] if "url" not in c]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    found += [
        f"{e} needs {s}"
        for e, s in EVENT_SCOPES.items()
        if e in events.get("bot_events", ()) and s not in scopes
    ]
    if features.get("slash_commands") and "commands" not in scopes:
        found.append("slash commands need the commands scope")
    if "assistant_view" in features and "assistant:write" not in scopes:
        found.append("the assistant view needs assistant:write")
    return found


def test_http_manifest_is_valid() -> None:
    manifest = _printed("--base-url", "https://baton.example.com")
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert _problems(manifest) == []


def test_socket_mode_manifest_is_valid_and_has_no_urls() -> None:
    manifest = _printed("--socket-mode")
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert _problems(manifest) == []
    assert "http" not in yaml.safe_dump(manifest)
    assert manifest["features"]["slash_commands"][0]["command"] == "/outcome"
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == list(BOT_EVENTS)


def test_the_assistant_manifest_is_valid_in_both_flavours() -> None:
    for args in (["--base-url", "https://baton.example.com"], ["--socket-mode"]):
        manifest = _printed(*args, "--assistant")
        assert _problems(manifest) == [], args
        assert "assistant_description" in manifest["features"]["assistant_view"]
        events = manifest["settings"]["event_subscriptions"]["bot_events"]
        assert {"assistant_thread_started", "message.im"} <= set(events)
    plain = _printed("--base-url", "https://baton.example.com")
    assert "assistant_view" not in plain["features"]
    assert "assistant:write" not in plain["oauth_config"]["scopes"]["bot"]


def test_the_http_manifest_names_the_oauth_redirect() -> None:
    manifest = _printed("--base-url", "https://baton.example.com/")
    redirect = manifest["oauth_config"]["redirect_urls"]
    assert redirect == ["https://baton.example.com/slack/oauth_redirect"]
    assert "redirect_urls" not in _printed("--socket-mode")["oauth_config"]


def test_the_checks_catch_an_invalid_manifest() -> None:
    manifest = _printed("--base-url", "https://baton.example.com")
    del manifest["settings"]["event_subscriptions"]["request_url"]
    manifest["oauth_config"]["scopes"]["bot"].remove("im:history")
    manifest["display_information"]["name"] = "B" * 36
    assert len(_problems(manifest)) == 3


def test_one_flavour_is_asked_for() -> None:
    for args in ([], ["--socket-mode", "--base-url", "https://baton.example.com"]):
        result = CliRunner().invoke(cli, ["manifest", "slack", *args])
        assert result.exit_code == 2 and "--socket-mode" in result.output


def test_only_scopes_baton_uses_are_asked_for() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    for scope, calls in SCOPE_CALLS.items():
        assert (scope in BOT_SCOPES) == bool(re.search(calls, source)), scope
    needed = {s for e, s in EVENT_SCOPES.items() if e in BOT_EVENTS}
    needed |= {"commands", "chat:write", "files:write"}
    used = {scope for scope, calls in SCOPE_CALLS.items() if re.search(calls, source)}
    assert set(BOT_SCOPES) == needed | used


@pytest.fixture
async def socket_only(
    slack_api: SlackApiDouble,  # noqa: F811
    business: Business,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[Baton]:
    env = baton_env(
        slack_api.base_url, tmp_path / "state", business.path, SLACK_APP_TOKEN="xapp-1-test"
    )
    del env["SLACK_SIGNING_SECRET"]
    async with serving(env, tmp_path) as running:
        yield running


async def test_socket_mode_starts_without_a_signing_secret_and_http_is_refused(
    socket_only: Baton,
    slack_api: SlackApiDouble,  # noqa: F811
) -> None:
    await eventually(lambda: len(slack_api.sockets) >= 1, "a Socket Mode connection")
    body = "token=x&command=%2Foutcome&text=list&user_id=U1&channel_id=C1&team_id=T1"
    kind = "application/x-www-form-urlencoded"
    for secret in ("", "x"):
        status, _text = await socket_only.post(body, kind, sign(body, secret=secret))
        assert status == 401
