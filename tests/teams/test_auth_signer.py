"""Teams authentication in a real `baton web` with production credentials, whose Bot
Framework signing keys come from a local signer: one that answers, and one that accepts the
connection and never says a word.

Whatever a token is, the answer is 200/201 (verified) or 401 (not), never a 500 and never a
hang; while a token waits for the signer, `/healthz` answers and SIGTERM stops the server.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from tests.doubles.openid_signer import SignerDouble, SigningKey, SilentServer, baton_web_code
from tests.teams.activities import BOT, TENANT
from tests.teams.processes import environment, eventually, free_port, healthy, stop

APP_ID = "5b2f0c1e-7c44-4d0a-9a51-3e7c1f00d2a1"
SERVICE_URL = "http://127.0.0.1:9/teams/"
ANSWER_WITHIN_S = 20.0
"""Far above the key fetch's bound (a few seconds), far below a hang."""


@dataclass
class Web:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@asynccontextmanager
async def baton_web(metadata_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Web]:
    """`baton web` serving Teams with production credentials, keys read at `metadata_url`."""
    port, prefix = free_port(), f"auth:{uuid.uuid4().hex[:10]}"
    env = environment(
        BATON_ENV="production",
        BATON_KEY_PREFIX=prefix,
        BATON_STATE_DIR=str(tmp_path / "state"),
        BATON_LOG_LEVEL="INFO",
        REDIS_URL=redis_url,
        PORT=str(port),
        MICROSOFT_APP_ID=APP_ID,
        MICROSOFT_APP_PASSWORD="not-used-inbound",
    )
    log = tmp_path / "web.log"
    process = subprocess.Popen(
        [sys.executable, "-c", baton_web_code(metadata_url), "web"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    web = Web(f"http://127.0.0.1:{port}", process, log)
    try:
        await healthy(web.url, process, log)
        yield web
    finally:
        stop(process)
        redis = Redis.from_url(redis_url)
        async for key in redis.scan_iter(match=prefix + ":*", count=1000):
            await redis.delete(key)
        await redis.aclose()


def update(service_url: str = SERVICE_URL) -> dict[str, Any]:
    """A conversationUpdate: verified, it is remembered and needs no answer from Baton."""
    return {
        "type": "conversationUpdate",
        "id": f"act-{uuid.uuid4().hex[:8]}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": "29:olivia", "aadObjectId": "olivia"},
        "recipient": BOT,
        "conversation": {"id": "19:c@thread.tacv2", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
    }


async def post(session: aiohttp.ClientSession, web: Web, authorization: str | None) -> int:
    headers = {} if authorization is None else {"Authorization": authorization}
    timeout = aiohttp.ClientTimeout(total=ANSWER_WITHIN_S)
    async with session.post(
        web.url + "/api/messages", json=update(), headers=headers, timeout=timeout
    ) as response:
        await response.read()
        return response.status


@pytest.fixture
async def silent() -> AsyncIterator[SilentServer]:
    server = SilentServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def signer() -> AsyncIterator[SignerDouble]:
    double = SignerDouble()
    await double.start()
    yield double
    await double.stop()


async def test_a_silent_signer_costs_one_bounded_wait_and_the_server_keeps_answering(
    silent: SilentServer, redis_url: str, tmp_path: Path
) -> None:
    token = "Bearer " + SignerDouble().token(APP_ID, SERVICE_URL)
    async with baton_web(silent.metadata_url, redis_url, tmp_path) as web:
        async with aiohttp.ClientSession() as session:
            waiting = [asyncio.create_task(post(session, web, token)) for _ in range(3)]
            await eventually(lambda: fetching(silent), "the key fetch")
            async with session.get(
                web.url + "/healthz", timeout=aiohttp.ClientTimeout(total=5)
            ) as health:
                assert health.status == 200  # (a blocked loop would never answer)
            assert await asyncio.gather(*waiting) == [401, 401, 401]
            # One fetch served all three; the next token is refused without waiting again.
            assert await post(session, web, token) == 401
        assert silent.connections == 1
        assert "Traceback" not in web.log.read_text()


async def test_sigterm_stops_the_server_while_a_token_waits_for_the_signer(
    silent: SilentServer, redis_url: str, tmp_path: Path
) -> None:
    token = "Bearer " + SignerDouble().token(APP_ID, SERVICE_URL)
    async with (
        baton_web(silent.metadata_url, redis_url, tmp_path) as web,
        aiohttp.ClientSession() as session,
    ):
        waiting = asyncio.create_task(post(session, web, token))
        await eventually(lambda: fetching(silent), "the key fetch")
        web.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(web.process.wait, ANSWER_WITHIN_S) == 0
        await asyncio.gather(waiting, return_exceptions=True)


async def test_tokens_that_cannot_be_verified_are_401(
    signer: SignerDouble, redis_url: str, tmp_path: Path
) -> None:
    stranger = SigningKey("published-key")  # the published key's id, another key
    refused = [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic b2xpdmlhOnB3",
        "Bearer not-a-token",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
        "Bearer " + "x" * 5000,
        "Bearer " + signer.token(APP_ID, SERVICE_URL, key=signer.unpublished),
        "Bearer " + signer.token(APP_ID, SERVICE_URL, key=stranger),
        "Bearer " + signer.token(APP_ID, SERVICE_URL, ttl_s=-3600),
        "Bearer " + signer.token("another-app", SERVICE_URL),
        "Bearer " + signer.token(APP_ID, "http://127.0.0.1:9/elsewhere/"),
    ]
    async with baton_web(signer.metadata_url, redis_url, tmp_path) as web:
        async with aiohttp.ClientSession() as session:
            statuses = [await post(session, web, header) for header in refused]
        assert statuses == [401] * len(refused)
        assert "Traceback" not in web.log.read_text()


async def test_a_token_signed_by_a_published_key_is_accepted_and_the_keys_kept(
    signer: SignerDouble, redis_url: str, tmp_path: Path
) -> None:
    async with (
        baton_web(signer.metadata_url, redis_url, tmp_path) as web,
        aiohttp.ClientSession() as session,
    ):
        for _ in range(3):
            token = "Bearer " + signer.token(APP_ID, SERVICE_URL)
            assert await post(session, web, token) in (200, 201)
    assert signer.fetches == 1


async def fetching(silent: SilentServer) -> bool:
    return silent.connections > 0
