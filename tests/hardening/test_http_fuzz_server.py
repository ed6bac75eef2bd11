"""Malformed and mutated requests over real HTTP to a running `baton web` process.

The in-process fuzz (test_fuzz_http.py) reaches the handlers through aiohttp's test client;
this one goes where an outside sender goes: a real `baton web` with production settings
(Slack signed with its secret, Teams with credentials and a local token signer, a case hook
with its secret), sent what `http_fuzz` generates from fixed seeds, a few hundred requests.
Properties: never a 5xx, never a dropped connection, no error logged by Baton, and the
server healthy afterwards. The failures the outside run found are sent first, by name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.store.keys import Keys
from tests.doubles.openid_signer import SignerDouble, baton_web_code
from tests.doubles.slack_api import SlackApiDouble
from tests.hardening import http_fuzz
from tests.hardening.http_fuzz import (
    HOOK_SECRET,
    SERVICE_URL,
    SLACK_SECRET,
    Probe,
    Tokens,
    deep_json,
    hook_headers,
    slack_headers,
)
from tests.teams.processes import environment, free_port, healthy, stop

APP_ID = "0d4c6a8e-1f2b-4c3d-8e9f-a0b1c2d3e4f5"
SEEDS = (1, 2, 3)
PER_SEED = 200


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    tokens: Tokens
    keys: Keys


@pytest.fixture
async def served(redis_url: str, business: Business, tmp_path: Path) -> AsyncIterator[Served]:
    slack_api, signer = SlackApiDouble(), SignerDouble()
    await slack_api.start()
    await signer.start()
    port, prefix = free_port(), f"httpfuzz:{uuid.uuid4().hex[:10]}"
    env = environment(
        BATON_ENV="production",
        BATON_KEY_PREFIX=prefix,
        BATON_STATE_DIR=str(tmp_path / "state"),
        BATON_DEMO_DB=str(business.path),
        BATON_TICKETS_HOOK_SECRET=HOOK_SECRET,
        REDIS_URL=redis_url,
        PORT=str(port),
        SLACK_BOT_TOKEN="xoxb-fuzz",
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=slack_api.base_url,
        MICROSOFT_APP_ID=APP_ID,
        MICROSOFT_APP_PASSWORD="not-used-inbound",
    )
    log = tmp_path / "web.log"
    process = subprocess.Popen(
        [sys.executable, "-c", baton_web_code(signer.metadata_url), "web"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    forged = [
        signer.token(APP_ID, SERVICE_URL, key=signer.unpublished),
        signer.token(APP_ID, SERVICE_URL, ttl_s=-3600),
        signer.token("another-app", SERVICE_URL),
    ]
    tokens = Tokens(valid=signer.token(APP_ID, SERVICE_URL, ttl_s=3600), forged=forged)
    url = f"http://127.0.0.1:{port}"
    try:
        await healthy(url, process, log)
        yield Served(url, process, log, tokens, Keys(prefix))
    finally:
        stop(process)
        await signer.stop()
        await slack_api.stop()
        redis = Redis.from_url(redis_url)
        async for key in redis.scan_iter(match=prefix + ":*", count=1000):
            await redis.delete(key)
        await redis.aclose()


def slack(body: bytes, kind: str, *, signed: bool = True) -> Probe:
    headers = {"Content-Type": kind, **slack_headers(body, SLACK_SECRET if signed else None)}
    return Probe("slack", "/slack/events", body, headers)


def command_without(field: str) -> bytes:
    fields = {
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "olivia",
        "command": "/outcome",
        "text": "Cut monthly churn by 2 points by end of Q1",
        "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
    }
    del fields[field]
    return urlencode(fields).encode()


def hook(event: object) -> Probe:
    body = json.dumps(event).encode() if not isinstance(event, bytes) else event
    return Probe("hook", f"/hooks/{http_fuzz.HOOK_SOURCE}", body, hook_headers(body, HOOK_SECRET))


def teams(body: bytes, token: str | None) -> Probe:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return Probe("teams", "/api/messages", body, headers)


def named_failures(tokens: Tokens) -> list[tuple[Probe, int]]:
    """What the outside run saw answered 500 or accepted and dead-lettered, and the answer
    each must get now."""
    deep = deep_json()
    form = "application/x-www-form-urlencoded"
    return [
        (slack(deep, "application/json", signed=False), 401),
        (slack(deep, "application/json"), 400),
        (slack(urlencode({"payload": deep.decode()}).encode(), form), 400),
        (slack(command_without("user_id"), form), 400),
        (slack(command_without("trigger_id"), form), 400),
        (slack(b"text=help&command=%2Foutcome", "text/plain; charset=bogus"), 400),
        (slack(b'{"type": "event_callback", "event": "\\ud800"}', "application/json"), 400),
        (slack(b"\xff\xfe{}", "application/json; charset=utf-16"), 400),
        (teams(deep, None), 401),
        (teams(b"{}", "a.b.c"), 401),
        (teams(deep, tokens.valid), 400),
        (hook(deep), 400),
        (hook({"ticket_id": "TCK\r\nX-Injected: 1", "opened_at": "2027-01-04T09:00:00Z"}), 400),
        (hook({"ticket_id": "TCK\x01", "opened_at": "2027-01-04T09:00:00Z"}), 400),
        (hook({"ticket_id": True}), 400),
        (_with(hook({"ticket_id": "T-1"}), **{"X-Baton-Signature": "sha256=é"}), 401),
        (
            _with(slack(b"command=%2Foutcome", form), **{"X-Slack-Request-Timestamp": "9" * 5000}),
            401,
        ),
    ]


def _with(probe: Probe, **headers: str) -> Probe:
    probe.headers.update(headers)
    return probe


async def test_the_failures_found_outside_are_4xx_and_queue_nothing(
    served: Served, redis: Redis
) -> None:
    cases = named_failures(served.tokens)
    answers = await http_fuzz.send(served.url, [probe for probe, _ in cases])
    assert answers.in_order == [expected for _, expected in cases]
    assert await redis.xlen(served.keys.jobs()) == 0


async def test_hundreds_of_mutated_requests_get_no_5xx_and_the_server_stays_healthy(
    served: Served,
) -> None:
    sent = [p for seed in SEEDS for p in http_fuzz.probes(seed, PER_SEED, served.tokens)]
    answers = await http_fuzz.send(served.url, sent)
    assert answers.server_errors == []
    assert answers.statuses[0] == 0, "connections dropped without an answer"
    assert sum(answers.statuses.values()) == len(sent)
    assert served.process.poll() is None
    async with (
        aiohttp.ClientSession() as session,
        session.get(served.url + "/healthz") as response,
    ):
        assert response.status == 200
    assert _errors_logged(served.log) == []


def _errors_logged(log: Path) -> list[str]:
    """Error lines but aiohttp's own refusals of bad HTTP framing (a 20 KB header: 400)."""
    errors = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") not in ("error", "critical"):
            continue
        if "aiohttp.http_exceptions" in entry.get("exception", ""):
            continue
        errors.append(f"{entry.get('logger')}: {entry.get('event')}"[:300])
    return errors
