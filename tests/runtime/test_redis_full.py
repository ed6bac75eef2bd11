"""Redis at `maxmemory` under `noeviction`, against a real `baton web`: `/readyz` says so,
on-call is paged once (straight to the pager: a page job would be a write Redis refuses),
people who write in Slack or Teams are told Baton cannot take new work right now, and
everything resumes by itself, page resolved, when memory is freed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from handlers import texts
from orchestrator.connectors.webhook import signature
from tests.doubles.bot_connector import BotConnectorDouble
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import Processes, until
from tests.runtime.receiver import PageReceiver, page_receiver
from tests.runtime.redis_server import RedisServer, free_port
from tests.slack.conftest import (
    BOT_TOKEN,
    SIGNING_SECRET,
    block_action,
    command_body,
    event_body,
    interaction_body,
    sign,
)
from tests.teams.activities import execute, message

BUSY = texts.CANNOT_TAKE_WORK
FILLER = "someone-elses:big-value"
HOOK_SECRET = "s3cret-for-tickets"


@dataclass
class Door:
    """The running `baton web` and what it talks to."""

    base: str
    http: aiohttp.ClientSession
    slack: SlackApiDouble
    teams: BotConnectorDouble
    pages: PageReceiver
    responses: PageReceiver
    """Where Slack's `response_url`s point."""

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.http.get(self.base + path) as response:
            return response.status, await response.json()

    async def slack_post(self, body: str, content_type: str) -> tuple[int, str]:
        headers = {"Content-Type": content_type, **sign(body)}
        async with self.http.post(self.base + "/slack/events", data=body, headers=headers) as r:
            return r.status, await r.text()

    async def command(self, text: str, trigger: str) -> tuple[int, str]:
        return await self.slack_post(*command_body(text, user="UOLIVIA", trigger=trigger))

    async def teams_post(self, activity: dict[str, Any]) -> tuple[int, str]:
        async with self.http.post(self.base + "/api/messages", json=activity) as response:
            return response.status, await response.text()

    def redis_pages(self, action: str) -> list[dict[str, Any]]:
        return [
            b for b in self.pages.bodies if b.get("kind") == "redis_full" and b["action"] == action
        ]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    data = tmp_path / "redis"
    data.mkdir()
    running = RedisServer(data)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def door(server: RedisServer, tmp_path: Path, crm_template: Path) -> AsyncIterator[Door]:
    crm = tmp_path / "crm.sqlite3"
    crm.write_bytes(crm_template.read_bytes())
    slack, teams = SlackApiDouble(), BotConnectorDouble()
    await slack.start()
    await teams.start()
    port = free_port()
    async with page_receiver() as pages, page_receiver() as responses:
        env = {
            "REDIS_URL": server.url,
            "BATON_KEY_PREFIX": "full",
            "BATON_STATE_DIR": str(tmp_path / "state"),
            "BATON_DEMO_DB": str(crm),
            "BATON_ENV": "development",
            "BATON_LOG_LEVEL": "WARNING",
            "BATON_HOST": "127.0.0.1",
            "PORT": str(port),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
            "BATON_PAGER_WEBHOOK_URL": pages.url + "/page",
            "BATON_PAGER_ALLOW_PRIVATE": "127.0.0.1/32",
            "BATON_TICKETS_HOOK_SECRET": HOOK_SECRET,
        }
        processes = Processes(env, tmp_path)
        processes.spawn("web")
        async with aiohttp.ClientSession() as http:
            door = Door(f"http://127.0.0.1:{port}", http, slack, teams, pages, responses)
            try:
                assert await until(lambda: _ready(door), rounds=600)
                yield door
            finally:
                processes.close()
                await slack.stop()
                await teams.stop()


async def _ready(door: Door) -> bool:
    try:
        status, _ = await door.get("/readyz")
    except aiohttp.ClientError:
        return False
    return status == 200


async def _fill(redis: Redis) -> None:
    """Another program's value lands, then the limit is set below what is used, under
    noeviction: the server refuses every write until that value is deleted."""
    used = int((await redis.info("memory"))["used_memory"])
    await redis.set(FILLER, b"x" * (8 * 1024 * 1024))
    await redis.config_set("maxmemory-policy", "noeviction")
    await redis.config_set("maxmemory", str(used + 4 * 1024 * 1024))
    with pytest.raises(ResponseError, match="maxmemory"):
        await redis.set("any-write", "1")


async def test_a_full_redis_is_reported_paged_once_told_and_recovered(
    door: Door, server: RedisServer
) -> None:
    redis = Redis.from_url(server.url)
    try:
        await _fill(redis)

        # Slack, before anything else looked at Redis: a read-only command and a statement
        # answer privately in the ack...
        for n, text in enumerate(["list", "Cut churn to 5% by 31 March"]):
            status, answer = await door.command(text, trigger=f"t{n}")
            assert status == 200
            assert json.loads(answer) == {"response_type": "ephemeral", "text": BUSY}
        # ...a click through its response_url, a direct message by an ephemeral post.
        click = block_action(
            "approve", "a1", user="UALICE", channel="C1", ts="1.1", thread=None, n=1
        )
        click["response_url"] = door.responses.url + "/actions/1"
        assert (await door.slack_post(*interaction_body(click)))[0] == 200
        dm = {"type": "message", "channel": "D1", "channel_type": "im", "user": "UOLIVIA",
              "text": "Cut churn to 5% by 31 March", "ts": "2.2"}  # fmt: skip
        assert (await door.slack_post(*event_body(dm, "Ev1")))[0] == 200
        # A forged request is still refused, and told nothing.
        forged, kind = command_body("list", user="UMALLORY", trigger="t5")
        headers = {"Content-Type": kind, **sign(forged, secret="not-the-secret")}
        async with door.http.post(door.base + "/slack/events", data=forged, headers=headers) as r:
            assert r.status == 401

        status, body = await door.get("/readyz")
        assert status == 503 and "out of memory" in body["reason"]

        # Teams: a message gets a reply activity, a card click its invoke answer.
        url = door.teams.service_url
        status, _ = await door.teams_post(message("olivia", "list", url, mention=True))
        assert status in (200, 201)
        status, answer = await door.teams_post(execute("alice", "approve", "a1", url))
        assert status == 200 and json.loads(answer)["value"] == BUSY

        # A help desk's webhook: 503 with Retry-After, so it delivers the event again later.
        event = json.dumps({"ticket_id": "T-1", "subject": "Cannot log in"}).encode()
        headers = {"X-Baton-Signature": signature(HOOK_SECRET, event)}
        async with door.http.post(
            door.base + "/hooks/support_tickets", data=event, headers=headers
        ) as hook:
            assert hook.status == 503 and hook.headers["Retry-After"]

        async def everyone_told() -> bool:
            ephemeral = door.slack.texts("chat.postEphemeral")
            return (
                BUSY in ephemeral
                and any(b.get("text") == BUSY for b in door.responses.bodies)
                and BUSY in door.teams.titles()
            )

        assert await until(everyone_told, rounds=100)
        assert await until(lambda: _paged(door, "trigger"), rounds=100)
        for _ in range(3):
            assert (await door.get("/readyz"))[0] == 503
        assert len(door.redis_pages("trigger")) == 1  # paged once, however often it is seen
        assert texts.SOMETHING_WRONG not in door.slack.texts("chat.postEphemeral")
        assert texts.SOMETHING_WRONG not in door.teams.titles()

        await redis.delete(FILLER)  # memory freed: nothing to restart
        assert await until(lambda: _ready(door), rounds=100)
        assert await until(lambda: _paged(door, "resolve"), rounds=100)
        status, answer = await door.command("list", trigger="t9")
        assert status == 200 and BUSY not in answer
    finally:
        await redis.aclose()


async def _paged(door: Door, action: str) -> bool:
    return bool(door.redis_pages(action))


async def test_a_redis_gone_while_serving_is_said_the_same_way(
    door: Door, server: RedisServer
) -> None:
    server.stop()
    status, answer = await door.command("list", trigger="g1")
    assert status == 200
    assert json.loads(answer) == {"response_type": "ephemeral", "text": BUSY}
    status, body = await door.get("/readyz")
    assert status == 503 and "redis unavailable" in body["reason"]
    assert door.redis_pages("trigger") == []  # a restart is not a full Redis

    server.start()  # same port, same append-only file
    assert await until(lambda: _ready(door), rounds=100)
    status, answer = await door.command("list", trigger="g2")
    assert status == 200 and BUSY not in answer
