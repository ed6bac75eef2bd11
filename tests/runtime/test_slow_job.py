"""A job slower than the visibility timeout, with two real worker processes: the worker
running it keeps its claim, so the other never runs it too (one plan, one email each)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from aiohttp import web
from redis.asyncio import Redis

from orchestrator.models import StepStatus
from orchestrator.runtime.context import Context
from tests.runtime.processes import (
    Processes,
    clean,
    context,
    reachable_redis,
    start_outcome,
    unique_prefix,
    until,
)

WORKSPACE = Path(__file__).with_name("slow_metric_workspace.yaml")
DELAY_S = 3.0
"""How long the metric API takes: three times the workers' visibility timeout."""


class SlowApi:
    """An HTTP metric source that answers after `DELAY_S`, counting the reads."""

    def __init__(self) -> None:
        self.reads = 0
        self.runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/metrics/churn", self._read)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def _read(self, request: web.Request) -> web.Response:
        self.reads += 1
        await asyncio.sleep(DELAY_S)
        return web.json_response({"value": 8.5})


@pytest.fixture
async def world(
    tmp_path: Path, crm_template: Path
) -> AsyncIterator[tuple[Context, Processes, Path]]:
    url = await reachable_redis()
    redis = Redis.from_url(url)
    prefix = unique_prefix()
    db = tmp_path / "crm.sqlite3"
    db.write_bytes(crm_template.read_bytes())
    api = SlowApi()
    env = {
        "REDIS_URL": url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_WORKSPACE": str(WORKSPACE),
        "BATON_DEMO_DB": str(db),
        "SLOW_API_URL": await api.start(),
        "BATON_WORKER_VISIBILITY_S": "1",
        "BATON_CLOCK_EVERY_S": "0.2",
        "BATON_LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    ctx = context(redis, prefix)
    await ctx.queue.ensure_group()
    try:
        yield ctx, processes, db
    finally:
        processes.close()
        assert api.runner is not None
        await api.runner.cleanup()
        await clean(redis, prefix)
        await redis.aclose()


def _sent(db: Path) -> list[int]:
    with closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT customer_id FROM outbox")]


async def test_a_tick_slower_than_the_visibility_timeout_plans_once(
    world: tuple[Context, Processes, Path],
) -> None:
    ctx, processes, db = world
    outcome_id = await start_outcome(ctx, 1, every_s=3600)
    for _ in range(2):
        processes.spawn("worker")

    async def sent() -> bool:
        steps = await ctx.store.steps(outcome_id)
        return any(s.action == "send_winback" and s.status is StepStatus.SUCCEEDED for s in steps)

    assert await until(sent, rounds=300), [s.status for s in await ctx.store.steps(outcome_id)]
    await asyncio.sleep(3 * DELAY_S)  # time for a second worker's duplicate tick to show

    steps = await ctx.store.steps(outcome_id)
    sends = [s for s in steps if s.action == "send_winback"]
    assert len(sends) == 1, [(s.id, s.action, s.status) for s in steps]
    recipients = _sent(db)
    assert recipients and len(recipients) == len(set(recipients)), recipients
