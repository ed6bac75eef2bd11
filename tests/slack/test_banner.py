"""Without Slack settings, `baton web` serves the rest and says Slack is off."""

from __future__ import annotations

from pathlib import Path

from bot.demo.simulation import Business
from handlers import texts
from tests.slack.processes import Baton, baton_env


async def test_slack_off_banner_and_no_route(business: Business, tmp_path: Path) -> None:
    env = baton_env("http://127.0.0.1:9/api/", tmp_path / "state", business.path)
    del env["SLACK_BOT_TOKEN"], env["SLACK_SIGNING_SECRET"]
    baton = Baton(env, tmp_path)
    await baton.start(worker=False)
    try:
        status, _ = await baton.post("{}", "application/json", {})
        assert status == 404
    finally:
        await baton.stop()
    assert texts.SLACK_OFF in (tmp_path / "web.log").read_text()
