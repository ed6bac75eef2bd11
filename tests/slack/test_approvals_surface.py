"""Quorum, delegation and "my approvals" through signed Slack requests to a running
`baton web` and a worker: the list answered privately in the ack with its buttons, a
click from it counted and the shared card updated in place, a delegate deciding."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from tests.approvals.test_quorum import with_quorum
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import reachable_redis
from tests.runtime.test_quorum_processes import _seed
from tests.slack.conftest import block_action, command_body, interaction_body, sign
from tests.slack.processes import Baton, baton_env, eventually


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    workspace_file = tmp_path / "workspace.yaml"
    quorum = with_quorum(load_workspace(DEMO_WORKSPACE), ("alice", "bob", "carol"), approvals=2)
    workspace_file.write_text(yaml.safe_dump(quorum.model_dump(mode="json", exclude_none=True)))
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        REDIS_URL=await reachable_redis(),
        BATON_WORKSPACE=str(workspace_file),
    )
    await _seed(env, slack_api, workspace_file)
    running = Baton(env, tmp_path)
    await running.start()
    yield running
    await running.stop()


def _card_text(api: SlackApiDouble, ts: str) -> str:
    updates = [c for c in api.called("chat.update") if c.get("ts") == ts]
    return json.dumps(updates[-1]["blocks"]) if updates else ""


async def _command(baton: Baton, text: str, user: str, trigger: str) -> dict[str, object]:
    status, answer = await baton.post(*command_body(text, user=user, trigger=trigger))
    assert status == 200, answer
    parsed: dict[str, object] = json.loads(answer)
    return parsed


async def test_my_approvals_then_a_vote_then_a_delegate_through_slack(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    ((approval_id, ts, _),) = slack_api.buttons("approve")

    mine = await _command(baton, "approvals", "alice", "t1")
    listing = json.dumps(mine["blocks"])
    assert "Waiting for your decision (1)" in listing and "0 of 2 approvals" in listing
    assert f'"value": "{approval_id}"' in listing and "baton_approve" in listing
    assert mine.get("response_type", "ephemeral") == "ephemeral"

    click = block_action(
        "approve", approval_id, user="alice", channel="C1", ts=ts, thread=None, n=1
    )
    body, kind = interaction_body(click)
    assert (await baton.post(body, kind, sign(body)))[0] == 200
    await eventually(
        lambda: "1 of 2 approvals (by @alice)" in _card_text(slack_api, ts), "the card updated"
    )
    assert "awaiting @bob, @carol" in _card_text(slack_api, ts)

    away = await _command(baton, "away until 2099-01-10, delegate @alice", "bob", "t2")
    assert "@alice decides your approvals" in str(away["text"])
    for_bob = json.dumps((await _command(baton, "approvals", "alice", "t3"))["blocks"])
    assert "for @bob, who is away" in for_bob

    again = block_action(
        "approve", approval_id, user="alice", channel="C1", ts=ts, thread=None, n=2
    )
    body, kind = interaction_body(again)
    assert (await baton.post(body, kind, sign(body)))[0] == 200
    await eventually(
        lambda: "Approved by @alice, @alice for @bob" in _card_text(slack_api, ts),
        "the decision on the card",
    )
