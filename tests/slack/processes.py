"""`baton web` and `baton run` as real processes, and signed requests to them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bot.bootstrap import App, bootstrap
from bot.slack.app import SLACK
from config.settings import DEMO_WORKSPACE, Settings
from orchestrator.store.client import redis_client
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, sign

T = TypeVar("T")
DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def baton_env(api_url: str, state: Path, crm: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BATON_"))}
    env.update(
        BATON_KEY_PREFIX=f"e2e:{uuid.uuid4().hex[:10]}",
        BATON_STATE_DIR=str(state),
        BATON_DEMO_DB=str(crm),
        BATON_LOG_LEVEL="WARNING",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api_url,
        BATON_AUDIT_KEY="e2e-audit-key-" + "0" * 32,  # production serving Slack needs one
        PORT=str(free_port()),
    )
    env.update(extra)
    return env


def spawn(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import main; main()", command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def eventually(probe: Callable[[], T | None], what: str, timeout: float = DEADLINE_S) -> T:
    """Poll `probe` until it returns something truthy, within a bounded deadline."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Baton:
    """The two processes sharing one Redis, and a signed-request client."""

    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    async def start(self, *, worker: bool = True) -> None:
        self.session = aiohttp.ClientSession()
        self.processes.append(spawn("web", self.env, self.logs / "web.log"))
        await self._until(self._healthy, "baton web to serve /healthz")
        if worker:
            await self.start_worker()

    async def start_worker(self) -> None:
        """A worker beside the web process: `baton run`, which serves the web surfaces too
        (on a port of its own) and, unlike `baton worker`, also runs on the embedded Redis."""
        env = {**self.env, "PORT": str(free_port())}
        self.processes.append(spawn("run", env, self.logs / "run.log"))

    async def stop(self) -> None:
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.session is not None:
            await self.session.close()

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        assert self.session is not None
        sent = {"Content-Type": content_type, **(sign(body) if headers is None else headers)}
        async with self.session.post(self.url + "/slack/events", data=body, headers=sent) as r:
            return r.status, await r.text()

    async def _healthy(self) -> bool:
        assert self.session is not None
        if self.processes[0].poll() is not None:
            raise AssertionError((self.logs / "web.log").read_text())
        try:
            async with self.session.get(self.url + "/healthz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def _until(self, probe: Callable[[], Awaitable[bool]], what: str) -> None:
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            if await probe():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")


def blocks_text(params: dict[str, Any]) -> str:
    return str(params.get("text", ""))


@asynccontextmanager
async def serving(env: dict[str, str], directory: Path) -> AsyncIterator[Baton]:
    """`baton web` and `baton run` as processes for the block; then stopped, and their keys
    removed from the Redis server or cluster in the env's `REDIS_URL` (the embedded one goes
    with `directory`)."""
    running = Baton(env, directory)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        url = env.get("REDIS_URL")
        if url:
            redis = redis_client(url)  # a cluster's client scans every primary
            async for key in redis.scan_iter(match=env["BATON_KEY_PREFIX"] + ":*", count=1000):
                await redis.delete(key)
            await redis.aclose()


async def seeding_app(env: dict[str, str], workspace_file: Path = DEMO_WORKSPACE) -> App:
    """An in-process Baton on the same Redis, Slack double and demo database as the
    processes `baton_env` configures: what a test uses to set a scene before they run."""
    settings = Settings(
        redis_url=env["REDIS_URL"],
        key_prefix=env["BATON_KEY_PREFIX"],
        workspace_file=workspace_file,
        state_dir=Path(env["BATON_STATE_DIR"]),
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=env["SLACK_API_URL"],
        audit_key=env["BATON_AUDIT_KEY"],
    )
    demo_db = {"BATON_DEMO_DB": env["BATON_DEMO_DB"]}
    return await bootstrap(settings, {}, platforms=[SLACK], env=demo_db)
