"""`baton web` and `baton run` as real processes for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    code = "from bot.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, command],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, *, within_s: float = DEADLINE_S
) -> None:
    """Poll `check` until it holds, failing with `what` after a bounded deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"process exited:\n{log.read_text()}")
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(base_url + "/healthz") as response,
            ):
                return response.status == 200
        except aiohttp.ClientError:
            return False

    await eventually(up, f"{base_url}/healthz")


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "SLACK_"))}
    env["BATON_AUDIT_KEY"] = "e2e-audit-key-" + "0" * 32  # production serving Teams needs one
    env.update(extra)
    return env
