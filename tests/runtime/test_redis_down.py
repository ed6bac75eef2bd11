"""Started while Redis is down, `baton web`, `worker`, `clock` and `run` wait for it: they say
so once (not once per try), stay up, and start working when a server answers. The server is
a redis-server this test starts after the process, on the port the process was given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import Tick
from tests.runtime.processes import SLOW_WORKSPACE, Processes, context, start_outcome, until
from tests.runtime.redis_server import RedisServer, free_port

WAITING = "does not answer"
ANSWERS = "answers after"


@pytest.fixture
async def later(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A Redis server with its port chosen now and started only when the test says so."""
    data = tmp_path / "redis"
    data.mkdir()
    server = RedisServer(data)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("role", ["web", "worker", "clock", "run"])
async def test_a_process_started_before_redis_waits_and_then_works(
    role: str, later: RedisServer, tmp_path: Path, crm_template: Path
) -> None:
    db = tmp_path / "crm.sqlite3"
    db.write_bytes(crm_template.read_bytes())
    port = free_port()
    env = {
        "REDIS_URL": later.url,
        "BATON_KEY_PREFIX": "down",
        "BATON_WORKSPACE": str(SLOW_WORKSPACE),
        "BATON_DEMO_DB": str(db),
        "BATON_STATE_DIR": str(tmp_path / "state"),
        "BATON_CLOCK_EVERY_S": "0.2",
        "BATON_LOG_LEVEL": "WARNING",
        "PORT": str(port),
        "BATON_HOST": "127.0.0.1",
    }
    processes = Processes(env, tmp_path)
    process = processes.spawn(role)
    log = next(tmp_path.glob(f"{role}-*.log"))
    try:
        assert await until(lambda: _said(log, WAITING), rounds=300)
        await asyncio.sleep(3)  # several tries with backoff
        assert process.poll() is None, log.read_text()[-3000:]
        later.start()
        assert await until(lambda: _said(log, ANSWERS), rounds=300), log.read_text()[-3000:]
        redis = Redis.from_url(later.url)
        try:
            assert await WORKING[role](context(redis, "down"), port)
        finally:
            await redis.aclose()
        assert process.poll() is None
        text = log.read_text()
        assert text.count(WAITING) == 1 and text.count(ANSWERS) == 1, text[-3000:]
        assert "Traceback" not in text
    finally:
        processes.close()


async def _said(log: Path, words: str) -> bool:
    return words in log.read_text()


async def _serves(ctx: Context, port: int) -> bool:
    return await until(lambda: _ready(f"http://127.0.0.1:{port}/readyz"), rounds=300)


async def _works_jobs(ctx: Context, port: int) -> bool:
    await ctx.queue.ensure_group()
    outcome_id = await start_outcome(ctx, 1)
    await ctx.queue.enqueue(Tick(outcome=outcome_id))  # due now, no clock needed

    async def measured() -> bool:
        return len(await ctx.store.measurements(outcome_id)) >= 2

    return await until(measured, rounds=600)


async def _leads(ctx: Context, port: int) -> bool:
    async def leader() -> bool:
        return await ctx.store.redis.get(ctx.keys.lease("clock")) is not None

    return await until(leader, rounds=300)


async def _runs(ctx: Context, port: int) -> bool:
    return await _serves(ctx, port) and await _works_jobs(ctx, port) and await _leads(ctx, port)


WORKING = {"web": _serves, "worker": _works_jobs, "clock": _leads, "run": _runs}
"""What each process does once Redis answers."""


async def _ready(url: str) -> bool:
    try:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False
