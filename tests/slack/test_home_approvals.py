"""My approvals in the App Home, through signed Slack requests to a running `baton web` and
a worker: an approver who opens Home sees what waits for them with its buttons, approves
from there (a click with no channel), and Home is published again without it; someone
going away or coming back republishes it too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.simulation import Business
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import command_body, event_body, interaction_body
from tests.slack.processes import Baton, eventually
from tests.slack.test_edit_modal import _serving


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    async for running in _serving(slack_api, business, tmp_path, discount_first=False):
        yield running


def _homes(api: SlackApiDouble, user: str) -> list[str]:
    return [json.dumps(p["view"]) for p in api.called("views.publish") if p["user_id"] == user]


def _home_click(action: str, value: str, user: str) -> dict[str, Any]:
    """A button pressed in App Home, as Slack sends it: a view, no channel, no message."""
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "double"},
        "user": {"id": user, "username": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "deprecated",
        "trigger_id": "trigger-home-1",
        "container": {"type": "view", "view_id": "VHOME"},
        "view": {"id": "VHOME", "type": "home", "callback_id": ""},
        "actions": [
            {
                "type": "button",
                "action_id": f"baton_{action}",
                "block_id": "b1",
                "value": value,
                "action_ts": "1700003000.000001",
            }
        ],
    }


async def test_an_approver_decides_from_home(baton: Baton, slack_api: SlackApiDouble) -> None:
    ((approval_id, ts, _),) = slack_api.buttons("approve")
    opened = {"type": "app_home_opened", "user": "alice", "channel": "DHOME", "tab": "home"}
    assert (await baton.post(*event_body(opened, "EvHome1")))[0] == 200
    home = (await eventually(lambda: _homes(slack_api, "alice"), "alice's Home"))[-1]
    assert "Waiting for your decision (1)" in home
    assert f'"value": "{approval_id}"' in home and "baton_approve" in home

    click = _home_click("approve", approval_id, "alice")
    assert (await baton.post(*interaction_body(click)))[0] == 200
    await eventually(
        lambda: [
            c
            for c in slack_api.called("chat.update")
            if c["ts"] == ts and "Approved by" in c["text"]
        ],
        "the card decided from Home",
    )
    await eventually(
        lambda: "Nothing waits for your decision" in _homes(slack_api, "alice")[-1],
        "Home published again without it",
    )


async def test_away_and_back_republish_home(baton: Baton, slack_api: SlackApiDouble) -> None:
    """Olivia decides nothing pending, so no card changes when she goes away or comes
    back: Home is republished because what waits for whom may have changed."""
    opened = {"type": "app_home_opened", "user": "alice", "channel": "DHOME", "tab": "home"}
    assert (await baton.post(*event_body(opened, "EvHome2")))[0] == 200
    await eventually(lambda: _homes(slack_api, "alice"), "alice's Home")
    await _republished_after(baton, slack_api, "away until 2099-01-10", "trigger-away-1")
    await _republished_after(baton, slack_api, "back", "trigger-away-2")


async def _republished_after(
    baton: Baton, slack_api: SlackApiDouble, said: str, trigger: str
) -> None:
    before = len(_homes(slack_api, "alice"))
    assert (await baton.post(*command_body(said, user="olivia", trigger=trigger)))[0] == 200
    await eventually(
        lambda: len(_homes(slack_api, "alice")) > before, f"Home republished after {said!r}"
    )
