"""End to end on a Redis Cluster: `baton web` + `baton run` as processes pointed at a local
3-master cluster (`redis+cluster://`), driven by signed Slack requests as people send them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.demo.simulation import Business
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import command_body
from tests.slack.processes import Baton, baton_env, eventually, serving
from tests.slack.test_e2e import STATEMENT, Slack


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path, cluster_url: str
) -> AsyncIterator[Baton]:
    env = baton_env(slack_api.base_url, tmp_path / "state", business.path, REDIS_URL=cluster_url)
    async with serving(env, tmp_path) as running:
        yield running


async def test_statement_confirm_list_and_approval_on_a_cluster(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    slack = Slack(baton, slack_api)
    assert await slack.command(STATEMENT, "olivia") == 200
    await eventually(lambda: slack.posted("percentage points"), "the clarifying question")
    thread = next(c.answer["ts"] for c in slack_api.calls if c.method == "chat.postMessage")
    assert await slack.reply("points", "olivia", thread, "Ev1") == 200
    session = (await eventually(lambda: slack_api.buttons("confirm"), "Confirm"))[0][0]
    assert await slack.click("confirm", session, "olivia") == 200
    outcome = "o" + session[1:]  # on a cluster the id carries the workspace's hash tag
    assert "." in outcome
    await eventually(lambda: slack.updated(f"Confirmed: outcome {outcome}"), "the confirmation")

    # The list comes back privately, in the acknowledgement's body.
    status, listed = await baton.post(*command_body("list", user="olivia", trigger="tl"))
    assert status == 200 and "Outcomes (1)" in listed and outcome in listed

    approval = (await eventually(lambda: slack_api.buttons("approve"), "the approval"))[0][0]
    assert await slack.click("approve", approval, "alice") == 200
    assert await slack.click("approve", approval, "alice") == 200  # the double click
    await eventually(lambda: slack.updated("Approved by @alice"), "the approval update")
    await eventually(lambda: slack.posted("Done: send_winback"), "the win-back to run")
    assert len(slack.posted("Done: send_winback")) == 1
    assert not [t for t in slack_api.texts() if "Something went wrong" in t]
    for log in ("web.log", "run.log"):
        assert "Traceback" not in (baton.logs / log).read_text()
