"""Start-up failures of the real `baton` command: one line on stderr saying what to do, never
a traceback; and `BATON_HOST` decides the address `baton web` listens on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis
from aiohttp import web

from tests.runtime.processes import ROOT, reachable_redis, until
from tests.runtime.redis_server import RedisServer, free_port

NOWHERE = f"redis://127.0.0.1:{free_port()}/0"
"""A Redis URL nobody answers on (nothing listens on a port just found free)."""


def _env(**values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "BATON_", "MICROSOFT_", "PAGER")) and k != "REDIS_URL"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, "BATON_KEY_PREFIX": f"test:startup:{uuid.uuid4().hex[:8]}", **values}


def _baton(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_clear_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr
    # Log lines (JSON, for operators) may come before; what a person reads is one line.
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, done.stderr[-3000:]
    for words in expected:
        assert words in lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["web", "worker", "clock", "run"])
def test_a_malformed_redis_url_fails_at_once(command: str, tmp_path: Path) -> None:
    secret = "s3cr3t-pass"
    env = _env(REDIS_URL=f"redis://:{secret}@127.0.0.1:63a9/0")
    line = _one_clear_line(_baton([command], env, tmp_path), "REDIS_URL", "redis://")
    assert secret not in line


def test_a_bad_log_level_fails_at_once(tmp_path: Path) -> None:
    env = _env(REDIS_URL=NOWHERE, BATON_LOG_LEVEL="LOUD")
    _one_clear_line(_baton(["worker"], env, tmp_path), "BATON_LOG_LEVEL", "'LOUD'", "WARNING")


@pytest.mark.parametrize("command", ["web", "run"])
def test_a_port_in_use_fails_at_once_without_waiting_for_redis(
    command: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _env(REDIS_URL=NOWHERE, PORT=str(port))
        _one_clear_line(_baton([command], env, tmp_path), f":{port}", "in use", "set PORT")


def test_a_one_shot_command_says_redis_does_not_answer(tmp_path: Path) -> None:
    done = _baton(["audit", "verify"], _env(REDIS_URL=NOWHERE), tmp_path)
    _one_clear_line(done, "does not answer", "REDIS_URL")


@pytest.fixture
async def refusing_slack() -> AsyncIterator[str]:
    """A Slack Web API that refuses every token, as Slack does a revoked or mistyped one."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "invalid_auth"})

    application = web.Application()
    application.router.add_post("/api/{method}", refuse)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/api/"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("command", ["web", "worker"])
async def test_a_slack_token_that_slack_refuses_fails_at_start(
    command: str, refusing_slack: str, tmp_path: Path
) -> None:
    env = _env(
        REDIS_URL=NOWHERE,
        PORT=str(free_port()),
        SLACK_BOT_TOKEN="xoxb-revoked-token",
        SLACK_SIGNING_SECRET="signing-secret",
        SLACK_API_URL=refusing_slack,
    )
    command_line = [sys.executable, "-c", "from bot.cli import main; main()", command]
    process = subprocess.Popen(
        command_line, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert await until(lambda: _exited(process), rounds=600)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    done = subprocess.CompletedProcess(command_line, process.returncode, "", err.decode())
    line = _one_clear_line(done, "SLACK_BOT_TOKEN", "invalid_auth", "OAuth")
    assert "xoxb-revoked-token" not in line and "reinstall" not in line


async def _exited(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None


@pytest.fixture
def web_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield _env(PORT=str(free_port()), BATON_LOG_LEVEL="WARNING")


@pytest.mark.parametrize(("host", "elsewhere"), [("127.0.0.1", False), (None, True)])
async def test_baton_host_decides_where_web_listens(
    host: str | None, elsewhere: bool, web_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**web_env, "REDIS_URL": await reachable_redis()}
    if host:
        env["BATON_HOST"] = host
    port = env["PORT"]
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "web"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        assert await until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), rounds=600)
        # 127.0.0.2 is this machine too, but not the address 127.0.0.1 is bound to.
        assert await _answers(f"http://127.0.0.2:{port}/healthz") is elsewhere
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


async def _answers(url: str) -> bool:
    try:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def test_a_redis_that_refuses_the_password_is_not_waited_for(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        with redis.Redis(port=server.port) as admin:
            admin.config_set("requirepass", "the-right-one")
        url = f"redis://:not-the-right-one@127.0.0.1:{server.port}/0"
        line = _one_clear_line(
            _baton(["worker"], _env(REDIS_URL=url), tmp_path), "refused the credentials"
        )
        assert "not-the-right-one" not in line
    finally:
        server.stop()
