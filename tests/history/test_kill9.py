"""The archive moves history exactly once although its worker is killed (-9) mid-batch,
again and again: every record ends up in one place, the chain still verifies end to end,
and `baton audit verify` says how much of it is in the history store."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.history.store import HistoryStore
from orchestrator.models import (
    ConversationRef,
    Direction,
    Lane,
    Measurement,
    Outcome,
    Step,
    StepStatus,
)
from orchestrator.runtime.clock import SystemClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import ArchiveBatch
from orchestrator.runtime.queue import JobQueue
from orchestrator.store import transitions
from orchestrator.store.audit import verify
from orchestrator.store.audit_seal import AuditKeys
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import TICK_WINDOW, RedisStore, TickSnapshot
from tests.runtime.processes import (
    ROOT,
    SLOW_WORKSPACE,
    Processes,
    clean,
    reachable_redis,
    unique_prefix,
    until,
)

AUDIT_KEYS = "k1:" + "7" * 64
OUTCOMES = 3
STEPS = 300
MEASUREMENTS = 600
LIVE_MEASUREMENTS = 5
KILLS = 8
CONSOLE = ConversationRef(platform="console", workspace="T1", channel="C1")


@pytest.fixture
async def mp(
    tmp_path: Path, crm_template: Path, history_url: str
) -> AsyncIterator[tuple[Context, Processes, HistoryStore]]:
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
        "BATON_STATE_DIR": str(tmp_path / "state"),
        "BATON_AUDIT_KEYS": AUDIT_KEYS,
        "BATON_HISTORY_URL": history_url,
        "BATON_HISTORY_BATCH": "5",
        "BATON_HISTORY_LIVE_AUDIT": "1",
        "BATON_HISTORY_LIVE_MEASUREMENTS": str(LIVE_MEASUREMENTS),
        "BATON_WORKER_VISIBILITY_S": "1",
        "BATON_SHUTDOWN_GRACE_S": "1",
        "BATON_LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    store = RedisStore(redis, Keys(prefix), AuditKeys.parse(keys=AUDIT_KEYS))
    history = HistoryStore(history_url)
    store.history = history
    ctx = Context(
        store=store,
        queue=JobQueue(redis, store.keys),
        clock=SystemClock(),
        workspace_of=lambda tenant: None,  # type: ignore[arg-type,return-value]
        connectors_of=lambda tenant: None,  # type: ignore[arg-type,return-value]
    )
    await ctx.queue.ensure_group()
    try:
        yield ctx, processes, history
    finally:
        processes.close()
        await history.close()
        await clean(redis, prefix)
        await redis.aclose()


async def _seed(ctx: Context, number: int) -> None:
    """An outcome with a long, old history: steps, measurements and their audit events."""
    keys, old = ctx.keys, ctx.clock.now() - timedelta(days=10)
    outcome = Outcome(
        id=f"o{number}",
        workspace="T1",
        objective="Cut churn",
        metric="churn_rate",
        direction=Direction.DECREASE,
        baseline=9.0,
        target=0.1,
        started_at=old,
        deadline=old + timedelta(days=90),
        owner="olivia",
        approvers=("alice",),
        conversation=CONSOLE,
        budget=100_000,
    )
    commit = transitions.record(
        Commit(), keys, None, outcome, actor="olivia", at=old, action="outcome.confirmed"
    )
    commit.op("SADD", keys.outcomes_of("T1"), outcome.id)
    commit.op("SADD", keys.workspaces(), "T1")
    await ctx.store.apply(commit)
    for first in range(0, STEPS, 20):
        commit = Commit()
        for n in range(first, first + 20):
            at = old + timedelta(minutes=n)
            step = Step(
                id=f"s{number}x{n:04d}",
                outcome_id=outcome.id,
                workspace="T1",
                action="find_at_risk",
                lane=Lane.LOGIC,
                play="win_back",
                status=StepStatus.SUCCEEDED,
                created_at=at,
                finished_at=at,
            )
            commit.write(keys.step(step.id), step.status.value, step.model_dump_json())
            commit.op("RPUSH", keys.steps_of(outcome.id), step.id)
            transitions.audit(
                commit,
                keys,
                "T1",
                actor="system",
                at=at,
                action="step.succeeded",
                subject=f"step:{step.id}",
                outcome_id=outcome.id,
            )
        await ctx.store.apply(commit)
    values = [
        Measurement(value=9.0 - n / 100, at=old + timedelta(minutes=n)).model_dump_json()
        for n in range(MEASUREMENTS)
    ]
    await ctx.store.redis.rpush(keys.measurements(outcome.id), *values)
    # A tick has read the outcome: steps before its window are the loop's no longer.
    assert isinstance(await ctx.store.tick_snapshot(outcome.id, "seed", 1_000), TickSnapshot)
    await ctx.store.release(f"outcome:{outcome.id}", "seed")


async def _in_redis(ctx: Context) -> int:
    keys, pipe = ctx.keys, ctx.store.redis.pipeline(transaction=False)
    for number in range(1, OUTCOMES + 1):
        pipe.llen(keys.steps_of(f"o{number}"))
        pipe.llen(keys.measurements(f"o{number}"))
    pipe.llen(keys.audit("T1"))
    return sum(int(n) for n in await pipe.execute())


async def test_the_archive_moves_everything_once_under_kill_9(
    mp: tuple[Context, Processes, HistoryStore],
) -> None:
    ctx, processes, history = mp
    for number in range(1, OUTCOMES + 1):
        await _seed(ctx, number)
    steps = {o: await ctx.store.steps(f"o{o}") for o in range(1, OUTCOMES + 1)}
    series = {o: await ctx.store.measurements(f"o{o}") for o in range(1, OUTCOMES + 1)}
    chain = await ctx.store.audit_entries("T1")
    # A tick's window of steps, the recent measurements, the newest audit event.
    left = (TICK_WINDOW + LIVE_MEASUREMENTS) * OUTCOMES + 1

    kills = 0
    while kills < KILLS and await _in_redis(ctx) > left:
        before = await _in_redis(ctx)
        worker = processes.spawn("worker")
        await ctx.queue.enqueue(ArchiveBatch())
        assert await until(_moved_since(ctx, before), rounds=1500, every_s=0.02)
        await asyncio.sleep(random.uniform(0, 0.05))
        processes.kill(worker)
        kills += 1
    processes.spawn("worker")
    await ctx.queue.enqueue(ArchiveBatch())
    assert await until(lambda: _only(ctx, left), rounds=1200, every_s=0.05)

    assert kills >= 2  # the archive was cut off mid-way, more than once
    for o in range(1, OUTCOMES + 1):
        assert await ctx.store.steps(f"o{o}") == steps[o]
        assert await ctx.store.measurements(f"o{o}") == series[o]
    assert await ctx.store.audit_entries("T1") == chain
    counts = await history.counts()
    assert counts["steps"] == OUTCOMES * (STEPS - TICK_WINDOW)
    assert counts["measurements"] == OUTCOMES * (MEASUREMENTS - LIVE_MEASUREMENTS)
    assert counts["audit"] == len(chain) - 1
    verdict = await verify(ctx.store, "T1")
    assert verdict.intact, verdict.problem
    assert verdict.archived == len(chain) - 1 == verdict.events - 1
    said = _baton_audit_verify(processes.env)
    assert said == f"T1: {len(chain)} events ({len(chain) - 1} in the history store), " + (
        f"intact, sealed with key k1 (head {verdict.head})"
    )


def _moved_since(ctx: Context, before: int) -> Callable[[], Awaitable[bool]]:
    """Whether the archive has moved anything since Redis held `before` records."""

    async def moved() -> bool:
        return await _in_redis(ctx) < before

    return moved


async def _only(ctx: Context, left: int) -> bool:
    return await _in_redis(ctx) == left


def _baton_audit_verify(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "audit", "verify"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]
