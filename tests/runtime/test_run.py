"""`baton run` for real (web, worker and clock in one process) on a Redis server and on
the embedded one: it serves /healthz, does the work, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from orchestrator.store.embedded import EmbeddedRedis
from tests.runtime.processes import ROOT, SLOW_WORKSPACE, context, start_outcome, until
from tests.runtime.redis_server import RedisServer, free_port


@pytest.fixture(params=["server", "embedded"])
async def redis_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A Redis server's URL, or "" for `baton run`'s embedded one."""
    if request.param == "embedded":
        yield ""
        return
    (tmp_path / "server").mkdir()
    server = RedisServer(tmp_path / "server")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _start(redis_url: str, state: Path, crm: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        BATON_STATE_DIR=str(state),
        BATON_WORKSPACE=str(SLOW_WORKSPACE),
        BATON_DEMO_DB=str(crm),
        BATON_KEY_PREFIX="run",
        BATON_CLOCK_EVERY_S="0.2",
        BATON_LOG_LEVEL="WARNING",
        PORT=str(port),
        BATON_ENV="development",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    command = [sys.executable, "-c", "from bot.cli import main; main()", "run"]
    return subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE)


async def _answers(url: str, status: str = "ok") -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status == 200 and (await response.json())["status"] == status
    except aiohttp.ClientError:
        return False


async def test_baton_run_serves_works_and_stops_on_sigterm(
    redis_url: str, tmp_path: Path, crm_template: Path
) -> None:
    crm = tmp_path / "crm.sqlite3"
    crm.write_bytes(crm_template.read_bytes())
    state, port = tmp_path / "state", free_port()
    process = _start(redis_url, state, crm, port)
    redis = Redis.from_url(redis_url or EmbeddedRedis(state / "redis").url)
    try:
        assert await until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), rounds=600)
        ctx = context(redis, "run")
        outcome_id = await start_outcome(ctx, 1)

        async def measured_thrice() -> bool:
            return len(await ctx.store.measurements(outcome_id)) >= 3

        assert await until(measured_thrice, rounds=600)
        assert await _answers(f"http://127.0.0.1:{port}/readyz", "ready")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err.decode()[-2000:]
        if redis_url:  # the embedded server stopped with the process
            assert await redis.get(ctx.keys.lease("clock")) is None  # leadership handed back
            assert await ctx.queue.pending() == 0  # nothing left half-done
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await redis.aclose()
