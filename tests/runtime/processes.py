"""Helpers for tests that run Baton's processes for real against a Redis server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.models import ConversationRef, Direction, Measurement, Outcome
from orchestrator.runtime.clock import SystemClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import Tick
from orchestrator.runtime.queue import JobQueue
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore

ROOT = Path(__file__).resolve().parents[2]
SLOW_WORKSPACE = Path(__file__).with_name("slow_workspace.yaml")
CONSOLE = ConversationRef(platform="console", workspace="T1", channel="C1")


async def reachable_redis(url: str | None = None) -> str:
    """A real Redis server's URL (REDIS_URL, else the default local port), or skip."""
    url = url or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    client = Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        await client.ping()
    except Exception:  # noqa: BLE001 - any failure means no server to test against
        pytest.skip(f"multi-process tests need a real Redis server at {url}; set REDIS_URL")
    finally:
        await client.aclose()
    return url


def unique_prefix() -> str:
    return f"test:mp:{uuid.uuid4().hex[:10]}"


async def clean(redis: Redis, prefix: str) -> None:
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)


class Processes:
    """Spawns `baton worker`/`baton clock` processes and kills them by pid only."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def spawn(self, role: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{role}-{len(self.running)}-{uuid.uuid4().hex[:4]}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import main; main()", role],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        process.send_signal(sig)
        process.wait(timeout=30)
        self.running.remove(process)

    def close(self) -> None:
        for process in list(self.running):
            process.terminate()
        for process in list(self.running):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()


async def until(
    check: Callable[[], Awaitable[bool]], *, rounds: int = 600, every_s: float = 0.1
) -> bool:
    """Bounded polling of state another process changes."""
    for _ in range(rounds):
        if await check():
            return True
        await asyncio.sleep(every_s)
    return False


def context(redis: Redis, prefix: str, *, tagged: bool = False) -> Context:
    """The test process's view of the store (`tagged`: of a cluster's)."""
    store = RedisStore(redis, Keys(prefix, tagged=tagged))

    def no_workspace(tenant: str) -> object:
        raise AssertionError("the test process only writes records")

    return Context(
        store=store,
        queue=JobQueue(redis, store.keys),
        clock=SystemClock(),
        workspace_of=no_workspace,  # type: ignore[arg-type]
        connectors_of=no_workspace,  # type: ignore[arg-type]
    )


async def start_outcome(ctx: Context, number: int, every_s: int = 1) -> str:
    """An active outcome written as confirmation writes it, with its first tick queued."""
    now = ctx.clock.now()
    outcome = Outcome(
        id=ctx.keys.new_id("o", number, "T1"),
        workspace="T1",
        objective="Cut churn",
        metric="churn_rate",
        direction=Direction.DECREASE,
        baseline=9.0,
        target=0.1,
        started_at=now,
        deadline=now + timedelta(days=90),
        owner="olivia",
        approvers=("alice",),
        conversation=CONSOLE,
        budget=100_000,
        check_every_s=every_s,
    )
    commit = transitions.record(
        Commit(), ctx.keys, None, outcome, actor="olivia", at=now, action="outcome.confirmed"
    )
    commit.op("HSET", ctx.keys.outcome(outcome.id), "budget", outcome.budget, "spent", 0)
    commit.op("SADD", ctx.keys.outcomes_of("T1"), outcome.id)
    measurement = Measurement(value=9.0, at=now).model_dump_json()
    commit.op("RPUSH", ctx.keys.measurements(outcome.id), measurement)
    ctx.queue.enqueue_in(commit, Tick(outcome=outcome.id))
    await ctx.store.apply(commit)
    return outcome.id
