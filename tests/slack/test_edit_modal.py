"""Edit, then approve, in Slack's modal, through signed requests to a running `baton web`
and a worker: the card's Edit button opens the modal (views.open), a refusal is shown in
the modal next to its input, a non-approver is refused as a click is, and the approved edit
updates the card with the difference."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import reachable_redis
from tests.runtime.test_quorum_processes import _seed
from tests.slack.conftest import block_action, interaction_body
from tests.slack.processes import Baton, baton_env, eventually, serving

NEW_DRAFT = "Subject: A note from Northwind\nHi, a short note: reply and we will call you."


def _workspace_file(tmp_path: Path, *, discount_first: bool) -> Path:
    data = load_workspace(DEMO_WORKSPACE).model_dump(mode="json", exclude_none=True)
    if discount_first:
        data["playbooks"]["churn_rate"].sort(key=lambda play: play["name"] != "discount_20")
    data["people"]["approvers"] = ["alice", "bob"]
    path = tmp_path / "workspace.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def _serving(
    api: SlackApiDouble, business: Business, tmp_path: Path, *, discount_first: bool
) -> AsyncIterator[Baton]:
    workspace_file = _workspace_file(tmp_path, discount_first=discount_first)
    env = baton_env(
        api.base_url,
        tmp_path / "state",
        business.path,
        REDIS_URL=await reachable_redis(),
        BATON_WORKSPACE=str(workspace_file),
    )
    await _seed(env, api, workspace_file)
    async with serving(env, tmp_path) as running:
        yield running


@pytest.fixture
async def drafting(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    async for running in _serving(slack_api, business, tmp_path, discount_first=False):
        yield running


@pytest.fixture
async def discounting(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    async for running in _serving(slack_api, business, tmp_path, discount_first=True):
        yield running


async def _open(baton: Baton, api: SlackApiDouble, user: str, n: int) -> dict[str, Any]:
    """Press Edit on the approval card as `user`; the modal Slack was asked to open."""
    ((approval_id, ts, _),) = api.buttons("edit")
    click = block_action("edit", approval_id, user=user, channel="C1", ts=ts, thread=None, n=n)
    assert (await baton.post(*interaction_body(click)))[0] == 200
    opened = await eventually(lambda: api.called("views.open")[n - 1 :], "the edit modal")
    view: dict[str, Any] = opened[0]["view"]
    assert opened[0]["trigger_id"] == f"trigger-{n}"
    return view


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


async def _submit(baton: Baton, view: dict[str, Any], user: str, **values: str) -> dict[str, Any]:
    """Submit the modal as Slack does: each input's state, typed values where given."""
    state = {
        block: {"value": {"type": element["type"], "value": values.get(block.split(":")[-1])}}
        for block, element in _inputs(view).items()
    }
    for block, element in _inputs(view).items():
        if state[block]["value"]["value"] is None:
            state[block]["value"]["value"] = element.get("initial_value")
    payload = {
        "type": "view_submission",
        "team": {"id": "T1", "domain": "double"},
        "user": {"id": user, "username": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "deprecated",
        "trigger_id": "trigger-submit",
        "view": {
            "id": f"V-{user}",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": state},
        },
    }
    status, answer = await baton.post(*interaction_body(payload))
    assert status == 200, answer
    return json.loads(answer) if answer else {}


def _card(api: SlackApiDouble, ts: str) -> str:
    updates = [c for c in api.called("chat.update") if c.get("ts") == ts]
    return json.dumps(updates[-1]["blocks"]) if updates else ""


async def test_a_draft_edited_in_the_modal_is_approved_and_shown_on_the_card(
    drafting: Baton, slack_api: SlackApiDouble
) -> None:
    ((approval_id, ts, _),) = slack_api.buttons("edit")
    view = await _open(drafting, slack_api, "alice", 1)
    assert view["callback_id"] == "baton_edit"
    draft = _inputs(view)["draft"]
    assert draft["type"] == "plain_text_input" and draft["multiline"]
    assert draft["initial_value"].startswith("Subject:")

    unchanged = await _submit(drafting, view, "alice")
    assert unchanged["response_action"] == "errors"
    assert "Nothing was changed" in unchanged["errors"]["draft"]

    outsider = await _submit(drafting, view, "mallory", draft=NEW_DRAFT)
    assert "Only the approvers" in outsider["errors"]["draft"], outsider

    assert await _submit(drafting, view, "bob", draft=NEW_DRAFT) == {}  # the modal closes
    await eventually(lambda: "Edited by @bob before approving" in _card(slack_api, ts), "card")
    card = _card(slack_api, ts)
    assert "+Hi, a short note" in card and "Approved by @bob" in card
    assert NEW_DRAFT.replace("\n", "\\n") in card
    said = await eventually(
        lambda: [t for t in slack_api.texts("chat.postEphemeral") if "as edited" in t], "reply"
    )
    assert f"You approved {approval_id} as edited" in said[0]
    assert not slack_api.buttons("edit"), "a decided card has no Edit left"


async def test_a_parameter_out_of_bounds_or_forbidden_is_refused_in_the_modal(
    discounting: Baton, slack_api: SlackApiDouble
) -> None:
    ((_, ts, _),) = slack_api.buttons("edit")
    view = await _open(discounting, slack_api, "alice", 1)
    percent = _inputs(view)["param:percent"]
    assert percent["type"] == "number_input" and percent["is_decimal_allowed"] is False
    assert (percent["initial_value"], percent["min_value"], percent["max_value"]) == (
        "20",
        "1",
        "50",
    )
    assert "draft" not in _inputs(view)

    too_much = await _submit(discounting, view, "alice", percent="60")
    assert "percent must be at most 50" in too_much["errors"]["param:percent"]
    forbidden = await _submit(discounting, view, "alice", percent="40")
    assert "policy forbids the edited step" in forbidden["errors"]["param:percent"]
    assert "Edited by" not in _card(slack_api, ts)

    assert await _submit(discounting, view, "alice", percent="10") == {}
    await eventually(lambda: "percent: 20 -&gt; 10" in _card(slack_api, ts), "the difference")
    assert "percent=10" in _card(slack_api, ts)
