"""Slack is wired by the composition root that lists it, never by importing `bot.slack`."""

from __future__ import annotations

from pathlib import Path

from bot.bootstrap import App, bootstrap
from bot.cli import PLATFORMS
from bot.cli_web import surfaces
from bot.slack.app import SLACK
from bot.slack.messages import SlackClick, SlackReply
from bot.web import build_web_app
from config.settings import Settings
from orchestrator.store.keys import Keys
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET


def _settings(redis_url: str, keys: Keys, state: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        key_prefix=keys.prefix,
        state_dir=state,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url="http://127.0.0.1:9/api/",
        env="development",
    )


async def _routes(baton: App) -> set[str]:
    application, _ = await build_web_app(baton, surfaces(baton))
    return {route.resource.canonical for route in application.router.routes() if route.resource}


async def test_a_root_that_lists_slack_delivers_serves_and_runs_its_jobs(
    redis_url: str, keys: Keys, tmp_path: Path
) -> None:
    baton = await bootstrap(_settings(redis_url, keys, tmp_path), {}, platforms=[SLACK], env={})
    try:
        assert "slack" in baton.gateways
        assert {SlackClick, SlackReply} <= {
            message for message, _ in baton.runtime.worker.handlers.items()
        }
        assert "/slack/events" in await _routes(baton)
    finally:
        await baton.close()


async def test_a_root_without_slack_has_none_of_it_though_bot_slack_was_imported(
    redis_url: str, keys: Keys, tmp_path: Path
) -> None:
    baton = await bootstrap(_settings(redis_url, keys, tmp_path), {}, env={})
    try:
        assert "slack" not in baton.gateways
        assert SlackClick not in {message for message, _ in baton.runtime.worker.handlers.items()}
        assert "/slack/events" not in await _routes(baton)
    finally:
        await baton.close()


def test_every_process_wires_slack_and_teams() -> None:
    assert [platform.name for platform in PLATFORMS] == ["teams", "slack"]
