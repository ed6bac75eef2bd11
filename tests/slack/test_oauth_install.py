"""Installed into many Slack workspaces: Bolt's OAuth v2 flow over real HTTP against
`baton web` + `baton run`, each team's token encrypted in Redis, each team answered with its
own token and its own workspace file."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from orchestrator.store.keys import Keys
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import block_action, command_body, event_body, interaction_body
from tests.slack.processes import Baton, baton_env, eventually, serving

AUTHORIZE_URL = "https://slack.example/oauth/v2/authorize"
STATEMENT = "Cut monthly churn by 2% by the end of Q1, with a budget of £500"
TOKEN_KEY = Fernet.generate_key().decode()


def _workspaces(directory: Path) -> Path:
    """T2 has a file of its own (its people named differently); other teams get the default."""
    directory.mkdir()
    own = yaml.safe_load(DEMO_WORKSPACE.read_text())
    own["name"] = "Two Ltd"
    own["people"]["names"] = {"olivia": "Olivia of Two", "alice": "alice", "bob": "bob"}
    (directory / "T2.yaml").write_text(yaml.safe_dump(own))
    return directory


@pytest.fixture
async def installable(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        SLACK_CLIENT_ID=slack_api.client_id,
        SLACK_CLIENT_SECRET=slack_api.client_secret,
        BATON_SLACK_TOKEN_KEY=TOKEN_KEY,
        SLACK_AUTHORIZE_URL=AUTHORIZE_URL,
        BATON_WORKSPACES_DIR=str(_workspaces(tmp_path / "workspaces")),
    )
    del env["SLACK_BOT_TOKEN"]
    async with serving(env, tmp_path) as running:
        yield running


def _redis(baton: Baton) -> Redis:
    url = os.environ.get("REDIS_URL") or (
        f"unix://{Path(baton.env['BATON_STATE_DIR'])}/redis/redis.sock"
    )
    return Redis.from_url(url)


async def _install_page(baton: Baton) -> tuple[str, str]:
    """GET /slack/install: the link to Slack's consent page and the state cookie."""
    assert baton.session is not None
    async with baton.session.get(baton.url + "/slack/install") as response:
        assert response.status == 200
        page = await response.text()
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
    link = html.unescape(re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', page)[1])  # type: ignore[index]
    return link, cookie


async def _redirect(baton: Baton, query: str, cookie: str | None) -> tuple[int, str]:
    """The person's browser coming back from Slack to /slack/oauth_redirect."""
    assert baton.session is not None
    headers = {"Cookie": cookie} if cookie else {}
    url = baton.url + "/slack/oauth_redirect?" + query
    async with baton.session.get(url, headers=headers) as response:
        return response.status, await response.text()


async def _install(baton: Baton, api: SlackApiDouble, team: str) -> str:
    link, cookie = await _install_page(baton)
    state = parse_qs(urlsplit(link).query)["state"][0]
    status, page = await _redirect(baton, f"code={api.grant(team)}&state={state}", cookie)
    assert status == 200 and "Baton is installed in Team " + team in page, page
    return [t for t, installed in api.teams.items() if installed == team][-1]  # the newest


def _command(team: str, trigger: str, text: str = STATEMENT) -> tuple[str, str]:
    body, kind = command_body(text, user="olivia", trigger=trigger)
    return body.replace("team_id=T1", f"team_id={team}"), kind


async def test_two_teams_install_and_each_is_answered_with_its_own_token_and_file(
    installable: Baton, slack_api: SlackApiDouble
) -> None:
    link, _cookie = await _install_page(installable)
    asked = parse_qs(urlsplit(link).query)
    assert link.startswith(AUTHORIZE_URL) and asked["client_id"] == [slack_api.client_id]
    assert {"chat:write", "commands", "im:history"} <= set(asked["scope"][0].split(","))

    token2 = await _install(installable, slack_api, "T2")
    token3 = await _install(installable, slack_api, "T3")
    exchanged = slack_api.called("oauth.v2.access")
    assert len(exchanged) == 2 and token2 != token3

    # Stored in Redis, encrypted: no token readable without the key.
    redis = _redis(installable)
    try:
        stored = await redis.hgetall(
            Keys(installable.env["BATON_KEY_PREFIX"]).slack_installation("T2")
        )
    finally:
        await redis.aclose()
    assert stored and all(token2.encode() not in value for value in stored.values())
    opened = json.loads(Fernet(TOKEN_KEY).decrypt(stored[b"installation"]))
    assert opened["bot_token"] == token2 and opened["team_id"] == "T2"

    # A signed command from each team: the worker's posts carry that team's token, and the
    # thread anchor names the person as that team's workspace file does.
    assert (await installable.post(*_command("T2", "t2")))[0] == 200
    assert (await installable.post(*_command("T3", "t3")))[0] == 200

    def anchors() -> dict[str, str]:
        posts = [c for c in slack_api.calls if c.method == "chat.postMessage"]
        return {c.token: c.params["text"] for c in posts if "stated an outcome" in c.params["text"]}

    await eventually(lambda: len(anchors()) == 2, "both thread anchors")
    found = anchors()
    assert found[token2].startswith("@Olivia of Two stated an outcome")
    assert found[token3].startswith("@olivia stated an outcome")
    # Each team's intake goes on in its own thread, with its own token.
    await eventually(
        lambda: (
            {c.token for c in slack_api.calls if "percentage points" in str(c.params)}
            == {token2, token3}
        ),
        "each team's clarifying question",
    )
    assert not [c for c in slack_api.calls if c.method.startswith("chat.") and not c.token]

    # The reject modal opens on the request, with the clicking team's token (Bolt's client).
    click = block_action(
        "reject", "a1", user="alice", channel="C1", ts="1.000001", thread=None, n=7
    )
    click["team"]["id"] = click["user"]["team_id"] = "T3"
    assert (await installable.post(*interaction_body(click)))[0] == 200
    opened = await eventually(
        lambda: [c for c in slack_api.calls if c.method == "views.open"], "the reject modal"
    )
    assert opened[0].token == token3


async def test_a_team_that_did_not_install_is_told_and_nothing_is_posted(
    installable: Baton, slack_api: SlackApiDouble
) -> None:
    status, text = await installable.post(*_command("T9", "t9", "list"))
    assert status == 200 and "not installed" in text
    assert slack_api.called("chat.postMessage") == []


async def test_bad_replayed_or_foreign_states_get_a_friendly_page(
    installable: Baton, slack_api: SlackApiDouble
) -> None:
    link, cookie = await _install_page(installable)
    state = parse_qs(urlsplit(link).query)["state"][0]
    code = slack_api.grant("T4")

    # Another browser (no state cookie): refused, nothing exchanged.
    status, page = await _redirect(installable, f"code={code}&state={state}", None)
    assert status == 400 and "another browser" in page and "/slack/install" in page
    # A state Baton never issued (or one that expired: gone from Redis alike).
    forged = "forged-state"
    status, page = await _redirect(
        installable, f"code={code}&state={forged}", f"slack-app-oauth-state={forged}"
    )
    assert status == 401 and "expired or was already used" in page
    assert "Traceback" not in page and slack_api.called("oauth.v2.access") == []

    # The real one works once; the same redirect again is refused.
    status, _page = await _redirect(installable, f"code={code}&state={state}", cookie)
    assert status == 200
    status, page = await _redirect(installable, f"code={code}&state={state}", cookie)
    assert status == 401 and "expired or was already used" in page
    assert len(slack_api.called("oauth.v2.access")) == 1

    # Cancelled on Slack's consent page.
    status, page = await _redirect(installable, "error=access_denied&state=x", cookie)
    assert status == 200 and "cancelled" in page


async def test_an_issued_state_expires(installable: Baton) -> None:
    link, _cookie = await _install_page(installable)
    state = parse_qs(urlsplit(link).query)["state"][0]
    redis = _redis(installable)
    try:
        ttl = await redis.ttl(Keys(installable.env["BATON_KEY_PREFIX"]).slack_oauth_state(state))
    finally:
        await redis.aclose()
    assert 0 < ttl <= 600


async def test_an_uninstall_removes_the_team_and_a_reinstall_brings_it_back(
    installable: Baton, slack_api: SlackApiDouble
) -> None:
    await _install(installable, slack_api, "T2")
    uninstalled = {"type": "app_uninstalled", "event_ts": "1700000000.000001"}
    body, kind = event_body(uninstalled, "EvUninstall")
    assert (await installable.post(body.replace('"T1"', '"T2"'), kind))[0] == 200
    redis = _redis(installable)
    key = Keys(installable.env["BATON_KEY_PREFIX"]).slack_installation("T2")
    try:
        await eventually_async(lambda: _gone(redis, key), "the installation removed")
    finally:
        await redis.aclose()
    status, text = await installable.post(*_command("T2", "t2", "list"))
    assert status == 200 and "not installed" in text

    token = await _install(installable, slack_api, "T2")
    assert (await installable.post(*_command("T2", "t3")))[0] == 200
    await eventually(
        lambda: any(c.token == token for c in slack_api.calls if c.method == "chat.postMessage"),
        "the anchor with the new token",
    )


async def _gone(redis: Redis, key: str) -> bool:
    return not await redis.exists(key)


async def eventually_async(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(600):
        if await probe():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
