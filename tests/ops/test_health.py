"""`baton worker` and `baton clock` answer an orchestrator's probes on BATON_HEALTH_PORT:
alive while their loop runs, not ready while Redis is gone, ready again when it is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.runtime.processes import Processes, until
from tests.runtime.redis_server import RedisServer, free_port


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    timeout = aiohttp.ClientTimeout(total=3)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.json()


async def _answers(port: int, path: str, status: int) -> bool:
    try:
        return (await _get(port, path))[0] == status
    except (aiohttp.ClientError, TimeoutError):
        return False


@pytest.mark.parametrize("role", ["worker", "clock"])
async def test_probes_follow_the_process_and_redis(
    role: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    processes = Processes(
        {
            "REDIS_URL": redis_server.url,
            "BATON_HEALTH_PORT": str(port),
            "BATON_HOST": "127.0.0.1",
            "BATON_STATE_DIR": str(tmp_path / "state"),
            "BATON_LOG_LEVEL": "WARNING",
        },
        tmp_path,
    )
    processes.spawn(role)
    try:
        assert await until(lambda: _answers(port, "/healthz", 200))
        assert await _get(port, "/healthz") == (200, {"process": role, "alive": True})
        assert await _get(port, "/readyz") == (200, {"process": role, "redis": "ok"})
        redis_server.stop()
        assert await until(lambda: _answers(port, "/readyz", 503))
        assert (await _get(port, "/healthz"))[0] == 200  # alive: a restart would not help
        redis_server.start()
        assert await until(lambda: _answers(port, "/readyz", 200))
    finally:
        processes.close()


async def test_no_probe_server_unless_asked(redis_server: RedisServer, tmp_path: Path) -> None:
    port = free_port()
    env = {"REDIS_URL": redis_server.url, "BATON_STATE_DIR": str(tmp_path / "s"), "PORT": str(port)}
    processes = Processes(env, tmp_path)
    worker = processes.spawn("worker")
    try:
        assert await until(lambda: _ready_log(tmp_path), rounds=300)
        assert worker.poll() is None
        assert not await _answers(port, "/healthz", 200)
    finally:
        processes.close()


async def _ready_log(logs: Path) -> bool:
    return any("Baton worker" in p.read_text(errors="replace") for p in logs.glob("worker-*.log"))
