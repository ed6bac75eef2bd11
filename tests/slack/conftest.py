"""Fixtures for the Slack tests: the Web API double and signed requests."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.doubles.slack_api import SlackApiDouble

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApiDouble]:
    double = SlackApiDouble()
    await double.start()
    yield double
    await double.stop()


def sign(body: str, *, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    """The headers Slack sends: v0 HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    stamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def command_body(text: str, *, user: str, trigger: str, channel: str = "C1") -> tuple[str, str]:
    form = {
        "token": "deprecated",
        "team_id": "T1",
        "team_domain": "double",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user,
        "command": "/outcome",
        "text": text,
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": trigger,
        "api_app_id": "A1",
    }
    return urlencode(form), "application/x-www-form-urlencoded"


def interaction_body(payload: dict[str, Any]) -> tuple[str, str]:
    return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"


def event_body(event: dict[str, Any], event_id: str) -> tuple[str, str]:
    envelope = {
        "token": "deprecated",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T1", "user_id": "UBATON", "is_bot": True}],
    }
    return json.dumps(envelope), "application/json"


def block_action(
    action: str, value: str, *, user: str, channel: str, ts: str, thread: str | None, n: int
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "ts": ts, "text": "..."}
    if thread:
        message["thread_ts"] = thread
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "double"},
        "user": {"id": user, "username": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "deprecated",
        "trigger_id": f"trigger-{n}",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "channel": {"id": channel, "name": "general"},
        "message": message,
        "response_url": "https://hooks.slack.invalid/actions/1",
        "actions": [
            {
                "type": "button",
                "action_id": f"baton_{action}",
                "block_id": "b1",
                "value": value,
                "action_ts": f"1700001000.{n:06d}",
            }
        ],
    }


def view_submission(
    view_id: str, private_metadata: str, reason: str, *, user: str
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T1", "domain": "double"},
        "user": {"id": user, "username": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "deprecated",
        "trigger_id": f"trigger-view-{view_id}",
        "view": {
            "id": view_id,
            "type": "modal",
            "callback_id": "baton_reject_reason",
            "private_metadata": private_metadata,
            "state": {
                "values": {
                    "reason": {"reason_input": {"type": "plain_text_input", "value": reason}}
                }
            },
        },
    }


def small_png() -> bytes:
    """A real, small chart: a metric against its straight-line trajectory."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1.2), dpi=50)
    axes = figure.subplots()
    axes.plot([0, 1, 2, 3], [8.3, 8.0, 7.9, 7.5], label="churn")
    axes.plot([0, 3], [8.3, 6.3], linestyle="--", label="trajectory")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
