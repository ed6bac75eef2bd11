"""Fuzzing every HTTP entry point of `baton web`, in process, against the real application
(a real bootstrap, the real aiohttp app, aiohttp's test server) on a real Redis.

Slack requests are correctly signed so the handlers are reached (and also unsigned or
forged); Teams activities go through development mode with `serviceUrl` at the connector
double; case hooks are signed with the source's secret. Properties: never a 5xx, never an
error logged by Baton (a swallowed crash), and no change of state from an invalid request.
The example counts add up to more than 10,000 per run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.bootstrap import App, bootstrap
from bot.cli import PLATFORMS
from bot.cli_web import surfaces
from bot.demo.simulation import Business
from bot.web import build_web_app
from config.settings import DEMO_WORKSPACE, Settings
from handlers.cards import Click, Inbound
from orchestrator.connectors.webhook import signature
from orchestrator.models import ConversationRef
from orchestrator.runtime.clock import ManualClock
from tests.conftest import START
from tests.doubles.bot_connector import BotConnectorDouble
from tests.doubles.slack_api import SlackApiDouble
from tests.fakes import RecordingGateway
from tests.slack.conftest import block_action, sign

T = TypeVar("T")
SIGNING_SECRET = "fuzz-signing-secret"
HOOK_SECRET = "fuzz-hook-secret"
DOMAIN = ("outcome:", "step:", "approval:", "audit:", "case:", "intake:", ":rules", ":paused")
"""Keys holding what people and the orchestrator decided (not caches, counters or jobs)."""


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["T1", "T2", "a1", "o1", "s1", "baton_approve", "approve", "../", "\x00"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=10,
)
huge = st.integers(min_value=5_000, max_value=40_000).map(lambda n: "é" * n)
texts = st.text(max_size=60) | huge | st.sampled_from(
    ["list", "status o1", "pause all", "resume all", "stop o1", "audit a1", "policies remove 1",
     "check o1", "help", "Cut monthly churn by 2 points by end of Q1", "<@U1> status o1"]
)  # fmt: skip


@dataclass
class Served:
    """One running `baton web` application and the loop it runs in."""

    loop: asyncio.AbstractEventLoop
    app: App
    client: TestClient[web.Request, web.Application]
    teams: BotConnectorDouble
    slack_api: SlackApiDouble
    approval: str

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    async def post(self, path: str, body: bytes | str, headers: dict[str, str]) -> int:
        async with self.client.post(path, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def slack(self, body: str, kind: str, *, secret: str | None = SIGNING_SECRET) -> int:
        headers = {"Content-Type": kind, **(sign(body, secret=secret) if secret else {})}
        return await self.post("/slack/events", body, headers)

    async def domain(self, *, but: tuple[str, ...] = ()) -> dict[str, bytes | None]:
        """Each decision-bearing key under the prefix (but those containing `but`), DUMPed."""
        redis, prefix = self.app.redis, self.app.runtime.ctx.keys.prefix
        names = [k.decode() async for k in redis.scan_iter(match=prefix + ":*", count=1000)]
        chosen = sorted(
            n for n in names if any(d in n for d in DOMAIN) and not any(b in n for b in but)
        )
        return {name: await redis.dump(name) for name in chosen}

    async def everything(self) -> set[str]:
        prefix = self.app.runtime.ctx.keys.prefix
        return {k.decode() async for k in self.app.redis.scan_iter(match=prefix + ":*")}


async def _serve(redis_url: str, prefix: str, business: Business, tmp: Path) -> Served:
    teams, slack_api = BotConnectorDouble(), SlackApiDouble()
    await teams.start()
    await slack_api.start()
    settings_ = Settings(
        redis_url=redis_url,
        key_prefix=prefix,
        workspace_file=DEMO_WORKSPACE,
        state_dir=tmp / "state",
        slack_bot_token="xoxb-fuzz",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.base_url,
        env="development",
    )
    env = {"BATON_DEMO_DB": str(business.path), "BATON_TICKETS_HOOK_SECRET": HOOK_SECRET}
    gateway = RecordingGateway()
    app = await bootstrap(
        settings_, {"test": gateway}, platforms=PLATFORMS, clock=ManualClock(START), env=env
    )
    application, _ = await build_web_app(app, surfaces(app))
    client = TestClient(TestServer(application))
    await client.start_server()
    approval = await _seed(app, gateway)
    return Served(asyncio.get_running_loop(), app, client, teams, slack_api, approval)


async def _seed(app: App, gateway: RecordingGateway) -> str:
    """An active outcome of T1 with a pending approval: ids for hostile requests to aim at."""
    where = ConversationRef(platform="test", workspace="T1", channel="C1")
    statement = "Cut monthly churn by 2 points by end of Q1"
    await app.conversation.on_message(Inbound(where, "olivia", statement))
    await app.runtime.drain()
    await app.conversation.on_click(
        Click(where, "olivia", "confirm", gateway.buttons("confirm")[-1])
    )
    await app.runtime.drain()
    return gateway.buttons("approve")[-1]


@pytest.fixture
def served(redis_url: str, business: Business, tmp_path: Path) -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    prefix = f"fuzz:{uuid.uuid4().hex[:12]}"
    served = loop.run_until_complete(_serve(redis_url, prefix, business, tmp_path))
    yield served
    loop.run_until_complete(_close(served, redis_url, prefix))
    loop.close()


async def _close(served: Served, redis_url: str, prefix: str) -> None:
    await served.client.close()
    await served.app.close()
    await served.teams.stop()
    await served.slack_api.stop()
    redis = Redis.from_url(redis_url)
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)
    await redis.aclose()


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A handler that failed and was caught still logs an error: that is a crash too."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [
        r.getMessage()[:300]
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith(("baton", "slack_bolt", "aiohttp"))
    ]
    assert errors == []


def _unchanged(served: Served, body: Callable[[], None], *, but: tuple[str, ...] = ()) -> None:
    before = served.run(served.domain(but=but))
    body()
    assert served.run(served.domain(but=but)) == before


# --- Slack -----------------------------------------------------------------------------

command_fields = st.fixed_dictionaries(
    {"command": st.sampled_from(["/outcome", "/other", ""]) | st.text(max_size=10)},
    optional={
        "team_id": st.sampled_from(["T1", "T2"]) | st.text(max_size=12),
        "user_id": st.sampled_from(["olivia", "alice", "mallory", ""]) | st.text(max_size=12),
        "channel_id": st.sampled_from(["C1", "D1"]) | st.text(max_size=12),
        "text": texts,
        "trigger_id": st.text(max_size=20),
        "response_url": st.text(max_size=40),
        "api_app_id": st.text(max_size=8),
    },
)


def test_signed_slash_commands_never_fail(served: Served) -> None:
    @fuzz(1000)
    @given(fields=command_fields)
    def one(fields: dict[str, str]) -> None:
        body = urlencode(fields)
        assert served.run(served.slack(body, "application/x-www-form-urlencoded")) < 500

    one()


def test_unsigned_and_forged_slack_requests_change_nothing(served: Served) -> None:
    before = served.run(served.everything())

    @fuzz(2000)
    @given(
        body=st.text(max_size=300) | command_fields.map(urlencode),
        kind=st.sampled_from(
            ["application/x-www-form-urlencoded", "application/json", "text/plain"]
        ),
        secret=st.sampled_from([None, "not-the-secret", ""]) | st.text(min_size=1, max_size=10),
    )
    def one(body: str, kind: str, secret: str | None) -> None:
        if secret == SIGNING_SECRET:
            return
        status = served.run(served.slack(body, kind, secret=secret or None))
        assert status in (400, 401, 403, 404, 413)

    one()
    assert served.run(served.everything()) == before


def _click(fields: dict[str, Any], action: str, value: Any, n: int) -> dict[str, Any]:
    payload = block_action(action, "v", user="alice", channel="C1", ts="1.1", thread=None, n=n)
    payload["actions"][0]["value"] = value
    payload.update(fields)
    return payload


def test_signed_hostile_clicks_change_no_decision(served: Served) -> None:
    count = iter(range(10**9))

    @fuzz(800)
    @given(
        action=st.sampled_from(["approve", "reject", "confirm", "cancel", "rule", "explode"])
        | st.text(max_size=12),
        value=st.sampled_from([served.approval, "a999", "s1", "", "*"]) | junk,
        fields=st.fixed_dictionaries(
            {
                "team": st.sampled_from([{"id": "T2"}, {"id": "T1"}, {}]) | junk,
                "user": st.sampled_from([{"id": "mallory"}, {"id": "alice", "team_id": "T2"}])
                | junk,
            }
        ),
        raw=st.none() | junk,
    )
    def one(action: str, value: Any, fields: dict[str, Any], raw: Any) -> None:
        payload = raw if raw is not None else _click(fields, action, value, next(count))
        if isinstance(payload, dict) and fields["team"] == {"id": "T1"}:
            payload["team"] = {"id": "T2"}  # of T1 only another workspace's members click here
            if isinstance(payload.get("user"), dict):
                payload["user"] = {"id": "mallory"}
        body = urlencode({"payload": json.dumps(payload)})
        assert served.run(served.slack(body, "application/x-www-form-urlencoded")) < 500

    _unchanged(served, one)


events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["event_callback", "url_verification", "app_rate_limited"])
        | st.text(max_size=10),
    },
    optional={
        "team_id": st.sampled_from(["T1", "T2"]) | junk,
        "challenge": junk,
        "event_id": st.text(max_size=12),
        "event": st.fixed_dictionaries(
            {
                "type": st.sampled_from(["app_mention", "message", "app_home_opened"])
                | st.text(max_size=10),
            },
            optional={
                "user": st.sampled_from(["olivia", "mallory"]) | junk,
                "text": texts | junk,
                "channel": junk,
                "channel_type": st.sampled_from(["im", "channel"]) | junk,
                "tab": st.sampled_from(["home", "messages"]) | junk,
                "bot_id": junk,
                "subtype": junk,
            },
        )
        | junk,
    },
)


def test_signed_events_never_fail(served: Served) -> None:
    @fuzz(1000)
    @given(envelope=events | junk)
    def one(envelope: Any) -> None:
        assert served.run(served.slack(json.dumps(envelope), "application/json")) < 500

    one()


# --- Teams -----------------------------------------------------------------------------


def _activity(served: Served, fields: dict[str, Any]) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": "message",
        "id": uuid.uuid4().hex,
        "channelId": "msteams",
        "serviceUrl": served.teams.service_url,
        "from": {"id": "29:mallory", "name": "mallory", "aadObjectId": "mallory"},
        "recipient": {"id": "28:baton-bot", "name": "Baton"},
        "conversation": {"id": "19:c@thread.tacv2", "tenantId": "tenant-2"},
        "channelData": {"tenant": {"id": "tenant-2"}},
    }
    activity.update(fields)
    return activity


activity_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "invoke", "conversationUpdate", "event"]) | junk,
        "name": st.sampled_from(["adaptiveCard/action", "task/fetch"]) | junk,
        "text": texts | junk,
        "value": st.fixed_dictionaries(
            {
                "action": st.fixed_dictionaries(
                    {"type": st.just("Action.Execute")},
                    optional={
                        "verb": st.sampled_from(["approve", "reject", "confirm", "rule"]) | junk,
                        "data": st.dictionaries(
                            st.sampled_from(["baton", "value", "reason"]), junk
                        ),
                    },
                )
            }
        )
        | junk,
        "from": junk,
        "conversation": junk,
        "channelData": junk,
        "entities": junk,
        "membersAdded": junk,
    },
)


def test_teams_activities_never_fail(served: Served) -> None:
    @fuzz(700)
    @given(fields=activity_fields, raw=st.none() | junk)
    def one(fields: dict[str, Any], raw: Any) -> None:
        activity = raw if raw is not None else _activity(served, fields)
        body = json.dumps(activity)
        status = served.run(
            served.post("/api/messages", body, {"Content-Type": "application/json"})
        )
        # 501 is the Bot Framework's own answer to an invoke a bot does not implement
        # (botbuilder's ActivityHandler); anything else in 5xx is a failure.
        unknown_invoke = isinstance(activity, dict) and activity.get("type") == "invoke"
        assert status < 500 or (status == 501 and unknown_invoke)

    # Members of another tenant may state outcomes there (an intake each); nothing of T1's
    # outcome, approval, steps or audit trail changes, whatever their clicks carry.
    _unchanged(served, one, but=("intake:",))


# --- case hooks and probes -------------------------------------------------------------


def test_hooks_signed_or_forged_never_fail(served: Served) -> None:
    before = served.run(served.everything())

    @fuzz(2000)
    @given(
        source=st.sampled_from(["support_tickets", "contracts", "nope"]) | st.text(max_size=20),
        body=st.binary(max_size=200) | junk.map(lambda v: json.dumps(v).encode()),
        forged=st.booleans(),
    )
    def one(source: str, body: bytes, forged: bool) -> None:
        secret = "not-the-secret" if forged else HOOK_SECRET
        headers = {"X-Baton-Signature": signature(secret, body)}
        path = "/hooks/" + source.replace("/", "_").replace("?", "_").replace("#", "_")
        status = served.run(served.post(path, body, headers))
        assert status < 500
        if forged and status not in (404, 405):
            assert status == 401

    one()
    # Signed events with a ticket id may open cases; nothing else under the prefix changes.
    after = served.run(served.everything())
    assert {k for k in after - before if ":case" not in k and ":jobs" not in k} <= {
        k for k in after - before if "dedupe" in k or "seq:" in k or "flag:" in k or ":ws:" in k
    }


def test_probes_answer_whatever_they_are_sent(served: Served) -> None:
    @fuzz(2500)
    @given(
        path=st.sampled_from(["/healthz", "/readyz", "/metrics", "/healthz"]),
        query=st.dictionaries(st.sampled_from(["ready", "x", "format"]), st.text(max_size=20)),
        request_id=st.text(
            alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300
        ),
    )
    def one(path: str, query: dict[str, str], request_id: str) -> None:
        async def get() -> int:
            async with served.client.get(
                path, params=query, headers={"X-Request-Id": request_id}
            ) as response:
                await response.read()
                return response.status

        assert served.run(get()) in (200, 503)

    _unchanged(served, one)
