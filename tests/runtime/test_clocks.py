"""Two `baton clock` processes: one leads, the other stands by and takes over when the
leader is killed or stalls; every timer is moved into the job stream exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from orchestrator.runtime.context import Context
from tests.messages import ClockProbe
from tests.runtime.processes import (
    Processes,
    clean,
    context,
    reachable_redis,
    unique_prefix,
    until,
)


@pytest.fixture
async def clocks(tmp_path: Path) -> AsyncIterator[tuple[Context, Processes]]:
    url = await reachable_redis()
    redis = Redis.from_url(url)
    prefix = unique_prefix()
    env = {
        "REDIS_URL": url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_LEADER_TTL_S": "1",
        "BATON_CLOCK_EVERY_S": "0.1",
        "BATON_LOG_LEVEL": "INFO",
    }
    processes = Processes(env, tmp_path)
    try:
        yield context(redis, prefix), processes
    finally:
        processes.close()
        await clean(redis, prefix)
        await redis.aclose()


async def _leader(ctx: Context, processes: Processes) -> subprocess.Popen[bytes] | None:
    raw = await ctx.store.redis.get(ctx.keys.lease("clock"))
    if raw is None:
        return None
    pid = int((raw.decode() if isinstance(raw, bytes) else raw).rsplit("-", 2)[1])
    return next((p for p in processes.running if p.pid == pid), None)


async def _schedule(ctx: Context, first: int, count: int, every_s: float) -> None:
    """Timers due one after another from now on, each with its own number."""
    now = ctx.clock.now()
    for n in range(first, first + count):
        due = now + timedelta(seconds=every_s * (n - first))
        await ctx.queue.schedule(f"probe:{n}", due, ClockProbe(n=n))


async def _moved(ctx: Context) -> Counter[int]:
    entries: Any = await ctx.store.redis.xrange(ctx.keys.jobs())
    jobs = [json.loads(fields[b"job"]) for _, fields in entries]
    return Counter(job["payload"]["n"] for job in jobs if job["kind"] == ClockProbe.KIND)


def _led(process: subprocess.Popen[bytes], logs: Path) -> bool:
    """Whether this clock's log says it became the leader."""
    for path in logs.glob("clock-*.log"):
        text = path.read_text(errors="replace")
        if f"-{process.pid}-" in text and "is the leader" in text:
            return True
    return False


async def test_one_clock_leads_and_the_standby_takes_over(
    clocks: tuple[Context, Processes], tmp_path: Path
) -> None:
    ctx, processes = clocks
    first, second = processes.spawn("clock"), processes.spawn("clock")
    assert await until(lambda: _has_leader(ctx, processes), rounds=600)
    leader = await _leader(ctx, processes)
    assert leader is not None
    standby = second if leader is first else first
    await _schedule(ctx, 0, 40, every_s=0.1)

    assert await until(lambda: _at_least(ctx, 10), rounds=300)
    assert _led(leader, tmp_path) and not _led(standby, tmp_path)  # exactly one fires
    processes.kill(leader)  # SIGKILL: the lock is not released, it has to expire

    assert await until(lambda: _leads(ctx, processes, standby), rounds=100)
    assert await until(lambda: _at_least(ctx, 40), rounds=300)

    # The new leader stalls past its lock's TTL (a long GC pause, a frozen VM): a fresh
    # standby takes over while the stalled one may still believe it leads when it wakes.
    third = processes.spawn("clock")
    await _schedule(ctx, 40, 30, every_s=0.1)
    await until(lambda: _at_least(ctx, 45), rounds=300)
    standby.send_signal(signal.SIGSTOP)
    try:
        assert await until(lambda: _leads(ctx, processes, third), rounds=600)
    finally:
        standby.send_signal(signal.SIGCONT)
    assert await until(lambda: _at_least(ctx, 70), rounds=300)

    moved = await _moved(ctx)
    assert sorted(moved) == list(range(70))  # none lost
    assert set(moved.values()) == {1}  # none twice
    assert await ctx.store.redis.zcard(ctx.keys.timers()) == 0


async def _has_leader(ctx: Context, processes: Processes) -> bool:
    return await _leader(ctx, processes) is not None


async def _leads(ctx: Context, processes: Processes, clock: subprocess.Popen[bytes]) -> bool:
    return await _leader(ctx, processes) is clock


async def _at_least(ctx: Context, count: int) -> bool:
    return len(await _moved(ctx)) >= count
