"""Redis restarts (persistence on) under a running worker and clock: they reconnect and
carry on, and work queued around the restart is done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import Tick
from tests.runtime.processes import SLOW_WORKSPACE, Processes, context, start_outcome, until
from tests.runtime.redis_server import RedisServer


@pytest.fixture
async def restartable(tmp_path: Path, crm_template: Path) -> AsyncIterator[RedisServer]:
    data = tmp_path / "redis"
    data.mkdir()
    server = RedisServer(data)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_worker_and_clock_survive_a_redis_restart(
    restartable: RedisServer, tmp_path: Path, crm_template: Path
) -> None:
    db = tmp_path / "crm.sqlite3"
    db.write_bytes(crm_template.read_bytes())
    env = {
        "REDIS_URL": restartable.url,
        "BATON_KEY_PREFIX": "restart",
        "BATON_WORKSPACE": str(SLOW_WORKSPACE),
        "BATON_DEMO_DB": str(db),
        "BATON_CLOCK_EVERY_S": "0.2",
        "BATON_LEADER_TTL_S": "1",
        "BATON_WORKER_VISIBILITY_S": "2",
        "BATON_LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    # The test's own client retries a command that meets a connection the restart closed.
    redis = Redis.from_url(
        restartable.url,
        retry=Retry(ExponentialBackoff(cap=0.5), 5),
        retry_on_error=[RedisConnectionError],
    )
    ctx = context(redis, "restart")
    try:
        await ctx.queue.ensure_group()
        outcome_id = await start_outcome(ctx, 1)
        processes.spawn("worker")
        processes.spawn("clock")
        assert await until(lambda: _measured(ctx, outcome_id, 3), rounds=600)

        restartable.stop()
        restartable.start()
        # A tick queued right after the restart, and the outcome's own timers, both run.
        before = len(await ctx.store.measurements(outcome_id))
        await ctx.queue.enqueue(Tick(outcome=outcome_id))
        assert await until(lambda: _measured(ctx, outcome_id, before + 3), rounds=600)
        assert all(p.poll() is None for p in processes.running)  # reconnected, not restarted
        assert await ctx.queue.dead() == 0
    finally:
        processes.close()
        await redis.aclose()


async def _measured(ctx: Context, outcome_id: str, count: int) -> bool:
    return len(await ctx.store.measurements(outcome_id)) >= count
