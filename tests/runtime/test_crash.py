"""kill -9 workers in the middle of step execution, again and again: effects stay single."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from subprocess import Popen

import pytest

from orchestrator.models import StepStatus
from orchestrator.runtime.context import Context
from orchestrator.store.client import redis_client
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
MAX_OUTCOMES = 60
WORKERS = 3
KILLS = 20
KILLS_PER_STEP = 2
"""Below the worker's delivery limit, so a step killed again and again is not set aside."""
SLOW_ACTIONS = {"send_winback": "outbox", "offer_discount": "discounts"}


@pytest.fixture(params=["single", "cluster"])
async def mp(
    request: pytest.FixtureRequest, tmp_path: Path, crm_template: Path
) -> AsyncIterator[tuple[Context, Processes]]:
    cluster = request.param == "cluster"
    url = request.getfixturevalue("cluster_url") if cluster else await reachable_redis()
    redis = redis_client(url)
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
    ctx = context(redis, prefix, tagged=cluster)
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


async def _executing(ctx: Context, killed: Counter[str]) -> tuple[str, int] | None:
    """A slow step being executed (and not killed too often yet) and its worker's pid.

    Only steps under a lease are looked at, so polling stays cheap however many
    outcomes the test has started.
    """
    redis = ctx.store.redis
    tag = ctx.keys.tag("T1")
    leases = ctx.keys.lease(f"step:*.{tag}" if tag else "step:*")
    async for key in redis.scan_iter(match=leases, count=1000):
        step_id = (key.decode() if isinstance(key, bytes) else key).rsplit(":", 1)[1]
        if killed[step_id] >= KILLS_PER_STEP:
            continue
        step = await ctx.store.step(step_id)
        owner = await redis.get(key)
        if step.status is StepStatus.RUNNING and step.action in SLOW_ACTIONS and owner:
            text = owner.decode() if isinstance(owner, bytes) else owner
            return step_id, int(text.rsplit("-", 2)[1])
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


async def _kill_executing_workers(
    ctx: Context, processes: Processes, ids: list[str], workers: list[Popen[bytes]]
) -> int:
    """Kill -9 workers while they execute slow steps until KILLS kills happened.

    When no slow step is running (the work ran out, or the machine is slow), more
    outcomes are confirmed, so the test reaches its kills whatever the machine's load.
    """
    rng = random.Random(5)
    killed: Counter[str] = Counter()
    kills = 0
    found: list[tuple[str, int]] = []

    async def someone_executing() -> bool:
        hit = await _executing(ctx, killed)
        found[:] = [hit] if hit and hit[1] in {w.pid for w in workers} else []
        return bool(found)

    while kills < KILLS:
        if not await until(someone_executing, rounds=100, every_s=0.02):
            assert len(ids) < MAX_OUTCOMES, f"{kills} kills; {await _statuses(ctx, ids)}"
            ids.extend([await start_outcome(ctx, len(ids) + n) for n in (1, 2)])
            continue
        step_id, pid = found[0]
        victim = next(w for w in workers if w.pid == pid)
        await until(_noop, rounds=rng.randint(0, 15), every_s=0.02)
        processes.kill(victim)
        workers.remove(victim)
        workers.append(processes.spawn("worker"))
        killed[step_id] += 1
        kills += 1
    return kills


async def test_kill_workers_mid_execution(mp: tuple[Context, Processes], tmp_path: Path) -> None:
    ctx, processes = mp
    ids = [await start_outcome(ctx, n) for n in range(1, OUTCOMES + 1)]
    workers = [processes.spawn("worker") for _ in range(WORKERS)]
    processes.spawn("clock")
    assert await _kill_executing_workers(ctx, processes, ids, workers) == KILLS

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
