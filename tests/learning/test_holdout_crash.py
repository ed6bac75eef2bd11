"""kill -9 a worker while it writes a step's effect: the step's recorded split survives,
and the re-run writes to every treated customer once and to no held-back one."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.models import Step, StepStatus
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

WORKSPACE = Path(__file__).with_name("holdout_workspace.yaml")


@pytest.fixture
async def mp(tmp_path: Path, crm_template: Path) -> AsyncIterator[tuple[Context, Processes]]:
    url = await reachable_redis()
    redis = Redis.from_url(url)
    prefix = unique_prefix()
    db = tmp_path / "crm.sqlite3"
    db.write_bytes(crm_template.read_bytes())
    env = {
        "REDIS_URL": url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_WORKSPACE": str(WORKSPACE),
        "BATON_DEMO_DB": str(db),
        "BATON_WORKER_VISIBILITY_S": "2",
        "BATON_CLOCK_EVERY_S": "0.2",
        "BATON_SHUTDOWN_GRACE_S": "3",
        "BATON_LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    ctx = context(redis, prefix)
    await ctx.queue.ensure_group()
    try:
        yield ctx, processes
    finally:
        processes.close()
        await clean(redis, prefix)
        await redis.aclose()


def written(db: Path, step_id: str) -> list[int]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT customer_id FROM outbox WHERE idempotency_key = ?", (step_id,)
        ).fetchall()
    return [int(r[0]) for r in rows]


async def test_a_killed_worker_never_reaches_the_control_group(
    mp: tuple[Context, Processes],
) -> None:
    ctx, processes = mp
    await start_outcome(ctx, 1)
    worker = processes.spawn("worker")
    processes.spawn("clock")
    found: list[Step] = []

    async def sending() -> bool:
        steps = await ctx.store.steps("o1")
        found[:] = [
            s for s in steps if s.action == "send_winback" and s.status is StepStatus.RUNNING
        ]
        return bool(found)

    assert await until(sending, rounds=600, every_s=0.02)
    governed = found[0]
    processes.kill(worker)  # mid-step: its lease and job are left behind
    processes.spawn("worker")

    async def done() -> bool:
        return (await ctx.store.step(governed.id)).status is StepStatus.SUCCEEDED

    assert await until(done, rounds=600, every_s=0.1)
    after = await ctx.store.step(governed.id)
    held = governed.holdout
    assert held is not None and len(held.control) == 3 and len(held.treated) == 9
    assert after.holdout == held  # recorded once, when governed; the take-over used it
    db = Path(processes.env["BATON_DEMO_DB"])
    sent = written(db, governed.id)
    assert sorted(sent) == sorted(int(e) for e in held.treated)  # each once
    assert not set(sent) & {int(e) for e in held.control}
    trail = await ctx.store.audit_trail(await ctx.store.outcome("o1"))
    events = [e.action for e in trail if e.subject == f"step:{governed.id}"]
    assert events.count("step.succeeded") == 1
