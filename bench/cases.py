"""Standing-outcome cases per second, and event-to-first-step latency, on a real Redis.

    python -m bench.cases --redis-url redis://127.0.0.1:6390/0 [--cases 4000] [--rate 100]

The server is named with `--redis-url` or `BATON_BENCH_REDIS_URL` (never `REDIS_URL`); only
keys under the run's own `bench:cases:` prefix are written and deleted.

Two `baton worker` processes run a three-step playbook of instant steps
(bench/cases_workspace.yaml). This process opens the cases as a webhook event does (one
create-once commit per case that also queues its work). Phase 1 opens `--cases` at once
and times the last case done: cases per second. Phase 2 opens cases at `--rate` per
second for `--seconds`: event to first step (p50/p99), from the case's commit to its first
step's commit, both stamped by the system clock of this one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from redis.asyncio import Redis

from bench import target
from config.workspace import load_workspace
from orchestrator.cases.run import Cases
from orchestrator.connectors import Connectors
from orchestrator.models import ConversationRef, Direction, Outcome, OutcomeKind
from orchestrator.runtime.clock import SystemClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.queue import JobQueue
from orchestrator.steps.lanes import Lanes
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = Path(__file__).with_name("cases_workspace.yaml")
WORKERS = 2


def context(redis: Redis, prefix: str) -> Context:
    workspace = load_workspace(WORKSPACE)
    store = RedisStore(redis, Keys(prefix))
    connectors = Connectors(workspace, {})
    return Context(
        store=store,
        queue=JobQueue(redis, store.keys),
        clock=SystemClock(),
        workspace_of=lambda tenant: workspace,
        connectors_of=lambda tenant: connectors,
    )


async def stand(ctx: Context) -> Outcome:
    """A confirmed standing outcome, written as confirmation writes it."""
    now = ctx.clock.now()
    outcome = Outcome(
        id="o1", workspace="T1", objective="every event handled within 1 minute",
        metric="handled_within_sla", direction=Direction.INCREASE, baseline=100.0,
        target=95.0, started_at=now, deadline=now + timedelta(days=3650), owner="olivia",
        approvers=("olivia",), conversation=ConversationRef(platform="console",
        workspace="T1", channel="bench"), kind=OutcomeKind.STANDING,
        case_playbook="handle", sla_s=60,
    )  # fmt: skip
    commit = transitions.record(
        Commit(), ctx.keys, None, outcome, actor="olivia", at=now, action="outcome.confirmed"
    )
    commit.op("HSET", ctx.keys.outcome(outcome.id), "budget", 0, "spent", 0)
    commit.op("SADD", ctx.keys.outcomes_of("T1"), outcome.id)
    commit.op("SADD", ctx.keys.workspaces(), "T1")
    await ctx.store.apply(commit)
    await ctx.queue.ensure_group()
    return outcome


def spawn(url: str, prefix: str, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "REDIS_URL": url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_WORKSPACE": str(WORKSPACE),
        "BATON_LOG_LEVEL": "WARNING",
        "BENCH_HOOK_SECRET": "bench",
    }
    command = [sys.executable, "-c", "from bot.cli import main; main()", "worker"]
    return [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=(logs / f"w{i}.log").open("wb"),
                         stderr=subprocess.STDOUT)
        for i in range(WORKERS)
    ]  # fmt: skip


async def done(ctx: Context) -> int:
    return int(await ctx.store.redis.zcard(ctx.keys.cases_done("o1")))


async def wait_done(ctx: Context, count: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while await done(ctx) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {await done(ctx)} of {count} cases done in {timeout_s} s")
        await asyncio.sleep(0.01)


async def latencies(ctx: Context, ids: list[str]) -> list[float]:
    cases = [await ctx.store.case(i) for i in ids]
    return [
        ((c.first_step_at or c.received_at) - c.received_at).total_seconds() * 1000 for c in cases
    ]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(int(q * len(ordered) + 0.999999) - 1, 0)]


async def burst(ctx: Context, cases: Cases, count: int) -> tuple[float, list[str]]:
    started = time.perf_counter()
    ids = []
    for n in range(count):
        case = await cases.open("events", f"b{n}", {"id": f"b{n}", "kind": "burst"})
        assert case is not None
        ids.append(case.id)
    await wait_done(ctx, count)
    return count / (time.perf_counter() - started), ids


async def paced(ctx: Context, cases: Cases, rate: float, seconds: float, base: int) -> list[str]:
    ids, started, n = [], time.perf_counter(), 0
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed * rate) + 1
        for _ in range(due - n):
            case = await cases.open("events", f"p{n}", {"id": f"p{n}", "kind": "paced"})
            assert case is not None
            ids.append(case.id)
            n += 1
        await asyncio.sleep(0.002)
    await wait_done(ctx, base + len(ids))
    return ids


async def main(count: int, rate: float, seconds: float, url: str) -> None:
    prefix = target.own_prefix("cases")
    redis = Redis.from_url(url)
    ctx = context(redis, prefix)
    await stand(ctx)
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    workers = spawn(url, prefix, logs)
    try:
        cases = Cases(ctx, Lanes())
        await cases.open("events", "warmup", {"id": "warmup", "kind": "warmup"})
        await wait_done(ctx, 1, timeout_s=60)  # both workers up, code paths warm
        throughput, burst_ids = await burst(ctx, cases, count)
        burst_ms = await latencies(ctx, burst_ids)
        paced_ms = await latencies(ctx, await paced(ctx, cases, rate, seconds, 1 + count))
        print(f"{WORKERS} workers, 3-step playbook of instant steps, Redis at {url}")
        print(f"throughput: {throughput:.0f} cases/s ({count} cases opened at once)")
        print(
            f"event to first step at {rate:g} cases/s: p50 {statistics.median(paced_ms):.1f} ms,"
            f" p99 {quantile(paced_ms, 0.99):.1f} ms ({len(paced_ms)} cases)"
        )
        print(
            f"event to first step in the burst (queueing included): p50 "
            f"{statistics.median(burst_ms):.0f} ms, p99 {quantile(burst_ms, 0.99):.0f} ms"
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        await target.clear(redis, prefix)
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target.add_redis_option(parser)
    parser.add_argument("--cases", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    url = target.redis_url(args.redis_url, os.environ)
    asyncio.run(main(args.cases, args.rate, args.seconds, url))
