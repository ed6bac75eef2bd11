"""What `baton web` refuses: forged or stale requests, half-configured Slack; and its banner."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from redis.asyncio import Redis

from bot.demo.simulation import Business
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import command_body, sign
from tests.slack.processes import Baton, baton_env, eventually, free_port, spawn


@pytest.fixture
async def web_only(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    env = baton_env(slack_api.base_url, tmp_path / "state", business.path)
    running = Baton(env, tmp_path)
    await running.start(worker=False)
    yield running
    await running.stop()


async def _keys(baton: Baton) -> int:
    url = (
        os.environ.get("REDIS_URL")
        or f"unix://{Path(baton.env['BATON_STATE_DIR'])}/redis/redis.sock"
    )
    redis = Redis.from_url(url)
    try:
        return len([k async for k in redis.scan_iter(match=baton.env["BATON_KEY_PREFIX"] + ":*")])
    finally:
        await redis.aclose()


async def test_forged_and_stale_requests_are_refused(
    web_only: Baton, slack_api: SlackApiDouble
) -> None:
    body, kind = command_body("Cut monthly churn by 2% by Q1", user="olivia", trigger="t1")
    before = await _keys(web_only)
    forged = sign(body, secret="not-the-secret")
    stale = sign(body, at=int(time.time()) - 6 * 60)
    assert (await web_only.post(body, kind, forged))[0] == 401
    assert (await web_only.post(body, kind, stale))[0] == 401
    assert (await web_only.post(body, kind, {}))[0] == 401
    called = [c for c in slack_api.calls if c.method != "auth.test"]  # start-up's token check
    assert called == [] and await _keys(web_only) == before
    # The same body, correctly signed, is taken (queued for a worker): the refusals were
    # about the signature.
    assert (await web_only.post(body, kind))[0] == 200
    assert await _keys(web_only) > before


def _baton(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_token_without_signing_secret_refuses_to_start(tmp_path: Path) -> None:
    env = baton_env("http://127.0.0.1:9/api/", tmp_path / "state", tmp_path / "crm.sqlite3")
    del env["SLACK_SIGNING_SECRET"]
    result = _baton(["web"], env)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert not (tmp_path / "state").exists()


def test_manifest_points_every_url_at_the_base_url(tmp_path: Path) -> None:
    env = baton_env("http://127.0.0.1:9/api/", tmp_path / "state", tmp_path / "crm.sqlite3")
    result = _baton(["manifest", "slack", "--base-url", "https://baton.example.com/"], env)
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    url = "https://baton.example.com/slack/events"
    assert manifest["features"]["slash_commands"][0]["command"] == "/outcome"
    assert manifest["features"]["slash_commands"][0]["url"] == url
    assert manifest["settings"]["event_subscriptions"]["request_url"] == url
    assert manifest["settings"]["interactivity"] == {"is_enabled": True, "request_url": url}
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert {"chat:write", "commands", "files:write"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )


async def test_a_repeated_slash_command_posts_one_anchor(
    web_only: Baton, slack_api: SlackApiDouble
) -> None:
    body, kind = command_body("Cut monthly churn by 2% by Q1", user="olivia", trigger="t7")
    assert (await web_only.post(body, kind))[0] == 200
    retry = {**sign(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await web_only.post(body, kind, retry))[0] == 200
    assert (await web_only.post(body, kind))[0] == 200
    # Acknowledged without posting: the anchor waits for a worker, then comes once.
    assert slack_api.called("chat.postMessage") == []
    env = {**web_only.env, "PORT": str(free_port())}
    web_only.processes.append(spawn("run", env, web_only.logs / "run.log"))
    await eventually(
        lambda: [t for t in slack_api.texts() if "stated an outcome" in t], "the anchor"
    )
    await asyncio.sleep(1.0)  # time for a second anchor, if one were coming
    anchors = [t for t in slack_api.texts() if "stated an outcome" in t]
    assert len(anchors) == 1


async def test_a_private_command_answer_comes_back_in_the_ack(
    web_only: Baton, slack_api: SlackApiDouble
) -> None:
    status, text = await web_only.post(*command_body("pause o404", user="olivia", trigger="t8"))
    assert status == 200
    answer = json.loads(text)
    assert "o404" in answer["text"] and answer["blocks"]
    # Answered in the response itself: no chat.postEphemeral (Bolt's own auth.test aside).
    assert {c.method for c in slack_api.calls} <= {"auth.test"}
