"""kill -9 workers in the middle of step execution, again and again: effects stay single."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.context import Context
from orchestrator.models import StepStatus
from tests.runtime.processes import (
    SLOW_WORKSPACE,
    Processes,
    clean,
    context,
    reachable_redis,
    start_outcome,
    unique_prefix,
    until,
)

OUTCOMES = 8
WORKERS = 3
KILLS = 20
SLOW_ACTIONS = {"send_winback": "outbox", "offer_discount": "discounts"}


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
        "BATON_WORKSPACE": str(SLOW_WORKSPACE),
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


def _rows(db: Path, table: str, key: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        query = f"SELECT COUNT(*) FROM {table} WHERE idempotency_key = ?"
        return int(conn.execute(query, (key,)).fetchone()[0])


async def _running_owner(ctx: Context, outcome_ids: list[str]) -> int | None:
    """The pid of a worker holding a running step's lease, if any."""
    for outcome_id in outcome_ids:
        for step in await ctx.store.steps(outcome_id):
            if step.status is StepStatus.RUNNING and step.action in SLOW_ACTIONS:
                owner = await ctx.store.redis.get(ctx.keys.lease(f"step:{step.id}"))
                if owner:
                    text = owner.decode() if isinstance(owner, bytes) else owner
                    return int(text.rsplit("-", 2)[1])
    return None


async def _finished(ctx: Context, outcome_ids: list[str]) -> bool:
    for outcome_id in outcome_ids:
        steps = await ctx.store.steps(outcome_id)
        done = [s for s in steps if s.action in SLOW_ACTIONS and s.status is StepStatus.SUCCEEDED]
        if len(done) < len(SLOW_ACTIONS) or any(
            s.status in (StepStatus.RUNNING, StepStatus.APPROVED, StepStatus.PLANNED) for s in steps
        ):
            return False
    return True


async def test_kill_workers_mid_execution(mp: tuple[Context, Processes], tmp_path: Path) -> None:
    ctx, processes = mp
    rng = random.Random(5)
    ids = [await start_outcome(ctx, n) for n in range(1, OUTCOMES + 1)]
    workers = [processes.spawn("worker") for _ in range(WORKERS)]
    processes.spawn("clock")
    kills = 0
    for _ in range(KILLS * 4):
        pid: list[int] = []

        async def someone_executing(pid: list[int] = pid) -> bool:
            found = await _running_owner(ctx, ids)
            pid[:] = [found] if found else []
            return found in {w.pid for w in workers}

        if not await until(someone_executing, rounds=1500, every_s=0.02):
            break
        victim = next(w for w in workers if w.pid == pid[0])
        await until(lambda: _noop(), rounds=rng.randint(0, 15), every_s=0.02)
        processes.kill(victim)
        workers.remove(victim)
        workers.append(processes.spawn("worker"))
        kills += 1
        if kills >= KILLS:
            break
    assert kills >= KILLS, f"only {kills} kills; steps: {await _statuses(ctx, ids)}"

    assert await until(lambda: _finished(ctx, ids), rounds=900, every_s=0.1)
    db = Path(processes.env["BATON_DEMO_DB"])
    for outcome_id in ids:
        outcome = await ctx.store.outcome(outcome_id)
        trail = await ctx.store.audit_trail(outcome)
        for step in await ctx.store.steps(outcome_id):
            if step.action not in SLOW_ACTIONS:
                continue
            assert step.audience == 5
            # Every row of the effect exactly once: none missing, none doubled.
            assert _rows(db, SLOW_ACTIONS[step.action], step.id) == step.audience
            actions = [e.action for e in trail if e.subject == f"step:{step.id}"]
            assert (actions.count("step.running"), actions.count("step.succeeded")) == (1, 1)
    assert await ctx.queue.dead() == 0

    # Outcomes keep progressing after the kills: every one is measured again.
    counts = {o: len(await ctx.store.measurements(o)) for o in ids}

    async def all_measured_again() -> bool:
        now = [len(await ctx.store.measurements(o)) for o in ids]
        return all(n > counts[o] + 1 for n, o in zip(now, ids, strict=True))

    assert await until(all_measured_again, rounds=300, every_s=0.1)


async def _noop() -> bool:
    return False


async def _statuses(ctx: Context, outcome_ids: list[str]) -> dict[str, str]:
    return {
        s.id: f"{s.action}:{s.status.value}" for o in outcome_ids for s in await ctx.store.steps(o)
    }
