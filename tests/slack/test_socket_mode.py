"""Socket Mode: `baton web` and `baton run` open Slack's websocket instead of taking HTTP
requests; envelopes arrive on it, are acknowledged on it, and start the same conversation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.simulation import Business
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import block_action, event_body
from tests.slack.processes import Baton, baton_env, eventually, serving

APP_TOKEN = "xapp-1-test-app-token"
STATEMENT = "Cut monthly churn by 2% by the end of Q1, with a budget of £500"


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    env = baton_env(
        slack_api.base_url, tmp_path / "state", business.path, SLACK_APP_TOKEN=APP_TOKEN
    )
    async with serving(env, tmp_path) as running:
        yield running


def slash_command(text: str, *, user: str, trigger: str) -> dict[str, Any]:
    """A slash command's Socket Mode payload: the HTTP form's fields, as JSON."""
    return {
        "token": "deprecated",
        "team_id": "T1",
        "team_domain": "double",
        "channel_id": "C1",
        "channel_name": "general",
        "user_id": user,
        "user_name": user,
        "command": "/outcome",
        "text": text,
        "api_app_id": "A1",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": trigger,
    }


async def test_a_slash_command_over_socket_mode_starts_an_intake(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    # Both processes serve Slack, so both open a connection, with the app-level token.
    await eventually(lambda: len(slack_api.sockets) >= 2, "two Socket Mode connections")
    opened = [c for c in slack_api.calls if c.method == "apps.connections.open"]
    assert opened and all(c.token == APP_TOKEN for c in opened)

    payload = slash_command(STATEMENT, user="olivia", trigger="t1")
    envelope_id = await slack_api.send_envelope(
        "slash_commands", payload, accepts_response_payload=True
    )
    acks = await eventually(
        lambda: [a for a in slack_api.acks if a["envelope_id"] == envelope_id], "the ack"
    )
    assert len(acks) == 1
    anchor = await eventually(
        lambda: [
            p for p in slack_api.called("chat.postMessage") if "stated an outcome" in p["text"]
        ],
        "the intake's anchor message",
    )
    assert anchor[0]["channel"] == "C1"
    question = await eventually(
        lambda: [t for t in slack_api.texts() if "percentage points" in t],
        "the clarifying question",
    )
    assert len(question) == 1


async def test_http_events_are_still_served_beside_socket_mode(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    await eventually(lambda: slack_api.sockets, "a Socket Mode connection")
    status, _ = await baton.post("payload=%7B%7D", "application/x-www-form-urlencoded", {})
    assert status == 401
    assert not slack_api.called("chat.postMessage")


async def test_a_thread_answer_and_a_click_over_socket_mode(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    """Events (a thread reply) and interactivity (Confirm) arrive as envelopes too: each is
    acknowledged on the socket, and the outcome is confirmed as over HTTP."""
    await eventually(lambda: slack_api.sockets, "a Socket Mode connection")
    await slack_api.send_envelope(
        "slash_commands", slash_command(STATEMENT, user="olivia", trigger="t2")
    )
    await eventually(
        lambda: [t for t in slack_api.texts() if "percentage points" in t], "the question"
    )
    thread = next(
        c.answer["ts"]
        for c in slack_api.calls
        if c.method == "chat.postMessage" and "stated an outcome" in c.params["text"]
    )
    answer = {
        "type": "message",
        "channel": "C1",
        "channel_type": "channel",
        "user": "olivia",
        "text": "points",
        "ts": "1700002000.000001",
        "thread_ts": thread,
    }
    event_id = await slack_api.send_envelope("events_api", json.loads(event_body(answer, "Ev9")[0]))
    session, ts, _ = (await eventually(lambda: slack_api.buttons("confirm"), "Confirm"))[0]
    click = block_action("confirm", session, user="olivia", channel="C1", ts=ts, thread=thread, n=9)
    click_id = await slack_api.send_envelope("interactive", click)
    await eventually(
        lambda: [t for t in slack_api.texts("chat.update") if "Confirmed: outcome o1" in t],
        "the confirmation",
    )
    acked = {a["envelope_id"] for a in slack_api.acks}
    assert {event_id, click_id} <= acked
