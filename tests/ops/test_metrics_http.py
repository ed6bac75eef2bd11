"""`/metrics` over real HTTP from real processes: on a port of its own (off the public one)
and behind a bearer token; the worker serves the same numbers beside its probes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bot.demo.simulation import Business
from tests.conftest import business  # noqa: F401  (fixture)
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import Processes, clean, reachable_redis, unique_prefix, until
from tests.slack.conftest import slack_api  # noqa: F401  (fixture)
from tests.slack.processes import Baton, baton_env, free_port, spawn

TOKEN = "scrape-" + "x" * 24


async def _get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers) as response,
    ):
        return response.status, await response.text()


async def _answers(url: str) -> bool:
    try:
        return (await _get(url))[0] in (200, 401)
    except (aiohttp.ClientError, TimeoutError):
        return False


def _names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


async def test_metrics_on_their_own_port_behind_a_token(
    slack_api: SlackApiDouble,  # noqa: F811
    business: Business,  # noqa: F811
    tmp_path: Path,
) -> None:
    metrics_port = free_port()
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        REDIS_URL=await reachable_redis(),
        BATON_METRICS_PORT=str(metrics_port),
        BATON_METRICS_TOKEN=TOKEN,
        BATON_HOST="127.0.0.1",
    )
    web = Baton(env, tmp_path)
    await web.start(worker=False)
    try:
        scrape = f"http://127.0.0.1:{metrics_port}/metrics"
        assert await until(lambda: _answers(scrape))
        assert (await _get(f"{web.url}/metrics", TOKEN))[0] == 404  # not on the public port
        assert (await _get(f"{web.url}/healthz"))[0] == 200
        assert (await _get(scrape))[0] == 401
        assert (await _get(scrape, "wrong"))[0] == 401
        assert (await _get(scrape, TOKEN + "x"))[0] == 401
        status, text = await _get(scrape, TOKEN)
        assert status == 200
        assert {"baton_jobs", "baton_job_seconds", "baton_dead_letters"} <= _names(text)
        assert "baton_build_info{" in text
    finally:
        await web.stop()
        await _clean(env)


async def test_the_worker_serves_metrics_beside_its_probes(tmp_path: Path) -> None:
    port, url, prefix = free_port(), await reachable_redis(), unique_prefix()
    processes = Processes(
        {
            "REDIS_URL": url,
            "BATON_KEY_PREFIX": prefix,
            "BATON_HEALTH_PORT": str(port),
            "BATON_HOST": "127.0.0.1",
            "BATON_STATE_DIR": str(tmp_path / "state"),
            "BATON_LOG_LEVEL": "WARNING",
            "BATON_METRICS_TOKEN": TOKEN,
        },
        tmp_path,
    )
    processes.spawn("worker")
    try:
        scrape = f"http://127.0.0.1:{port}/metrics"
        assert await until(lambda: _answers(scrape))
        assert (await _get(scrape))[0] == 401
        status, text = await _get(scrape, TOKEN)
        assert status == 200 and "baton_job_backlog" in _names(text)
    finally:
        processes.close()
        redis = Redis.from_url(url)
        await clean(redis, prefix)
        await redis.aclose()


async def test_backfill_command_runs_once(tmp_path: Path) -> None:
    url, prefix = await reachable_redis(), unique_prefix()
    env = {
        **os.environ,
        "REDIS_URL": url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_STATE_DIR": str(tmp_path / "state"),
        "BATON_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-c", "from bot.cli import main; main()", "metrics", "backfill"]
    try:
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    finally:
        redis = Redis.from_url(url)
        await clean(redis, prefix)
        await redis.aclose()
    assert first.returncode == 0, first.stderr
    assert "Backfilled: " in first.stdout
    assert "Already backfilled: nothing to do." in second.stdout


async def test_a_taken_metrics_port_is_one_line_naming_it(
    slack_api: SlackApiDouble,  # noqa: F811
    business: Business,  # noqa: F811
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = baton_env(
            slack_api.base_url,
            tmp_path / "state",
            business.path,
            REDIS_URL=await reachable_redis(),
            BATON_METRICS_PORT=str(taken.getsockname()[1]),
            BATON_HOST="127.0.0.1",
        )
        process = spawn("web", env, tmp_path / "web.log")
        assert await until(lambda: _exited(process))
    await _clean(env)
    log = (tmp_path / "web.log").read_text()
    assert process.returncode == 2
    assert "Cannot start: BATON_METRICS_PORT: cannot listen on 127.0.0.1:" in log
    assert "Traceback" not in log


async def _exited(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None


async def _clean(env: dict[str, str]) -> None:
    redis = Redis.from_url(env["REDIS_URL"])
    await clean(redis, env["BATON_KEY_PREFIX"])
    await redis.aclose()
