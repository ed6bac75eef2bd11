"""Throughput and cost of Baton's durable tick, and of the same loop in LangGraph.

    python -m bench.loop --redis-url redis://127.0.0.1:6390/0 [--outcomes 1000 10000]
        [--workers 1 2 4] [--seconds 15] [--warmup 3]
    python -m bench.loop --redis-url redis://127.0.0.1:6390/0 --outcomes 1000 --cycles 3

Needs a real Redis server, named with `--redis-url` or `BATON_BENCH_REDIS_URL` (never
`REDIS_URL`: it refuses to run without one). It writes only keys under `bench:loop:` and
deletes only those, before and after each run. Its figures read the server's INFO (commands,
CPU, memory), so a server nobody else uses at the time gives the cleanest ones.

Each run confirms N active outcomes that tick back to back (check_every_s = 0), with a
SQLite metric (one row, one table: instant, but through the real SQL connector) and the
playbook planner re-running a one-step play (a logic-lane query), auto-approved by policy.
W worker processes run the real `Runtime` (ticks, which run their auto-approved step, and
notices; notices are delivered to a sink, chat delivery is not the loop's cost); this
process moves due timers
as `baton clock` does. Over a window after warm-up it reports ticks/s, Redis commands per
tick (INFO commandstats delta over ticks: every job kind and the clock included), p50/p99
tick latency (the tick job's handler, its step's execution included), and Redis memory
per active outcome counting the outcome's live state only: history (measurements, audit
trail, finished steps, the job stream) is measured with MEMORY USAGE per key and left
out, and shown separately. It
also shows the jobs of each kind handled in the window per tick: CPU per tick depends on
that mix (a steady tick here brings three notices with it), and with
many outcomes a short warm-up leaves the window mostly first ticks (`--warmup`).
`--cycles C` measures CPU per tick with that mix fixed instead: one process moves every
due tick and drains the stream, C times, which is far less noisy on a shared machine.

`--age T` ages outcomes instead: one process ticks them T times each on a clock that moves
an hour per tick (each tick runs one step, so T finished steps each), the archive moving
history to a SQLite history store after every tick as the clock's cron would (`--no-archive`:
never, as before the history store), and reports Redis memory per outcome and CPU per tick
(worker and Redis) for the outcomes fresh and aged. `--scrape N ...` times a `/metrics`
scrape with N outcomes.

The peer is the same measure -> plan -> govern -> execute loop as a LangGraph StateGraph
with its SQLite checkpointer (AsyncSqliteSaver), one invocation per outcome per step, in
one process; its time per step is compared with Baton's with one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode, RedisCluster

from bench import target
from bot.metrics import exposition, snapshot
from config.workspace import load_workspace
from orchestrator.connectors import Connectors
from orchestrator.history.archive import Archiver, Retention
from orchestrator.history.store import HistoryStore
from orchestrator.models import ConversationRef, Direction, Measurement, Outcome
from orchestrator.notify.notices import Notice
from orchestrator.runtime.clock import Clock, ManualClock, SystemClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.dispatch import AnyHandler
from orchestrator.runtime.messages import Message, Tick
from orchestrator.runtime.queue import Delivery, JobQueue, consumer_name
from orchestrator.runtime.services import Runtime
from orchestrator.store import counters, transitions
from orchestrator.store.client import is_cluster, redis_client
from orchestrator.store.commit import Commit
from orchestrator.store.counters import JOB_BUCKETS_S, JOB_OUTCOMES
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore

PREFIX = "bench:loop"
WORKSPACE = """
name: Loop bench
currency: GBP
connections:
  db: {kind: sql, url: "sqlite:///${BENCH_DB}"}
metrics:
  churn_rate:
    {connection: db, unit: percent, direction: decrease, query: "SELECT value FROM metric"}
actions:
  find_at_risk:
    lane: logic
    description: Find customers at risk
    function: query_rows
    connection: db
    query: "SELECT id AS customer_id FROM customers ORDER BY id LIMIT 5"
playbooks:
  churn_rate:
    - {name: win_back, rationale: Quiet customers churn, cooldown_days: 0,
       steps: [{action: find_at_risk}]}
policy: {default: auto, budget: 100000000, max_steps_per_day: 100000000}
people: {owner: olivia, approvers: [alice], on_call: [oscar]}
"""
HISTORY = (":measurements", ":audit", ":steps", ":notices")


def prepare(directory: Path) -> tuple[Path, Path]:
    """The bench's workspace file and its SQLite database (a metric row, 50 customers)."""
    db = directory / "bench.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE metric (value REAL)")
        conn.execute("INSERT INTO metric VALUES (8.5)")
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO customers VALUES (?)", [(i,) for i in range(50)])
        conn.commit()
    path = directory / "workspace.yaml"
    path.write_text(WORKSPACE)
    return path, db


def context(
    redis: Redis, workspace_path: Path, db: Path, clock: Clock | None = None, *, url: str = ""
) -> Context:
    """The bench's context; `url` a cluster's (`redis+cluster://`): keys with hash tags."""
    workspace = load_workspace(workspace_path)
    connectors = Connectors(
        workspace, {"BENCH_DB": str(db)}, sqlite_on_loop=True
    )  # as `baton worker`
    store = RedisStore(redis, Keys(PREFIX, tagged=is_cluster(url)))
    return Context(
        store=store,
        queue=JobQueue(redis, store.keys),
        clock=clock or SystemClock(),
        workspace_of=lambda tenant: workspace,
        connectors_of=lambda tenant: connectors,
    )


class Sink:
    """Notices are delivered nowhere: chat delivery is not the loop's cost."""

    async def deliver(self, notice: Notice) -> None:
        return None


async def confirm(ctx: Context, count: int) -> None:
    """N active outcomes as confirmation writes them, each with its first tick queued."""
    now = ctx.clock.now()
    where = ConversationRef(platform="bench", workspace="T1", channel="C1")

    async def one(n: int) -> None:
        outcome = Outcome(
            id=ctx.keys.new_id("o", n, "T1"), workspace="T1", objective="Cut churn",
            metric="churn_rate",
            direction=Direction.DECREASE, baseline=9.0, target=0.1, started_at=now,
            deadline=now + timedelta(days=90), owner="olivia", approvers=("alice",),
            conversation=where, budget=100_000, check_every_s=0,
        )  # fmt: skip
        commit = transitions.record(
            Commit(), ctx.keys, None, outcome, actor="olivia", at=now, action="outcome.confirmed"
        )
        commit.op("SADD", ctx.keys.outcomes_of("T1"), outcome.id)
        commit.op("SADD", ctx.keys.workspaces(ctx.keys.tag("T1")), "T1")
        first = Measurement(value=9.0, at=now).model_dump_json()
        commit.op("RPUSH", ctx.keys.measurements(outcome.id), first)
        ctx.queue.enqueue_in(commit, Tick(outcome=outcome.id))
        await ctx.store.apply(commit)

    for chunk in range(0, count, 100):
        await asyncio.gather(*(one(n) for n in range(chunk, min(chunk + 100, count))))


def work(url: str, workspace: str, db: str, times: tuple[float, float, float], out: Any) -> None:
    """A worker process: the real Runtime on the job stream until `times[2]` (monotonic),
    its CPU time measured over the window `times[0]`..`times[1]`."""
    out.put(asyncio.run(_work(url, Path(workspace), Path(db), times[2], times[:2])))


async def _work(
    url: str, workspace: Path, db: Path, until: float, window: tuple[float, float]
) -> dict[str, Any]:
    trips = count_round_trips()
    redis = redis_client(url, worker=True)  # as `baton worker`
    ctx = context(redis, workspace, db, url=url)
    runtime = Runtime(ctx, Sink(), name=consumer_name("bench"))
    timed: list[tuple[float, float]] = []

    def timing(tick: AnyHandler) -> AnyHandler:
        async def timed_tick(message: Tick, work: Delivery) -> None:
            began = time.monotonic()
            await tick(message, work)
            timed.append((began, time.monotonic() - began))

        return timed_tick

    runtime.worker.handlers.wrap(Tick, timing)
    kinds: Counter[str] = Counter()  # jobs handled in the window, by kind
    for message, _ in runtime.worker.handlers.items():
        runtime.worker.handlers.wrap(message, _counted(message, kinds, window))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    cpu: list[float] = []  # process CPU seconds at the window's start and end
    for at in (window[0], window[1]):
        loop.call_later(at - time.monotonic(), lambda: cpu.append(time.process_time()))
    loop.call_later(until - time.monotonic(), stop.set)
    await runtime.worker.run(stop, block_ms=50)
    await redis.aclose()
    in_window = sum(1 for t, _ in timed if window[0] <= t <= window[1])
    return {"timed": timed, "trips": trips[0], "ticks": len(timed), "cpu": cpu[1] - cpu[0],
            "window_ticks": in_window, "kinds": dict(kinds)}  # fmt: skip


def _counted(
    message: type[Message], kinds: Counter[str], window: tuple[float, float]
) -> Callable[[AnyHandler], AnyHandler]:
    def counting(handler: AnyHandler) -> AnyHandler:
        async def counted(job: Message, work: Delivery) -> None:
            if window[0] <= time.monotonic() <= window[1]:
                kinds[message.KIND] += 1
            await handler(job, work)

        return counted

    return counting


def count_round_trips() -> list[int]:
    """Count this process's Redis round trips: a command, or a whole pipeline, is one (on a
    cluster, a pipeline is one per node it reaches)."""
    trips = [0]
    command: Any = Redis.execute_command
    flush = Pipeline.execute
    on_node: Any = ClusterNode.execute_command
    on_nodes: Any = ClusterNode.execute_pipeline

    async def counted_command(self: Redis, *args: Any, **options: Any) -> Any:
        trips[0] += 1
        return await command(self, *args, **options)

    async def counted_flush(self: Pipeline, raise_on_error: bool = True) -> list[Any]:
        trips[0] += 1
        return await flush(self, raise_on_error)

    async def counted_on_node(self: ClusterNode, *args: Any, **options: Any) -> Any:
        trips[0] += 1
        return await on_node(self, *args, **options)

    async def counted_on_nodes(self: ClusterNode, *args: Any, **options: Any) -> Any:
        trips[0] += 1
        return await on_nodes(self, *args, **options)

    Redis.execute_command = counted_command  # type: ignore[method-assign]
    Pipeline.execute = counted_flush  # type: ignore[method-assign]
    ClusterNode.execute_command = counted_on_node  # type: ignore[method-assign]
    ClusterNode.execute_pipeline = counted_on_nodes  # type: ignore[method-assign]
    return trips


async def move_timers(ctx: Context, until: float) -> None:
    """What `baton clock` does: move due timers into the stream, every 50 ms."""
    while time.monotonic() < until:
        while await ctx.queue.move_due(ctx.clock.now(), limit=2000):
            pass
        await asyncio.sleep(0.05)


async def info(redis: Redis, section: str) -> list[dict[str, Any]]:
    """INFO `section` of the server, or of every primary of a cluster."""
    if isinstance(redis, RedisCluster):
        found: Any = await redis.info(section, target_nodes=RedisCluster.PRIMARIES)
        return list(found.values())
    return [await redis.info(section)]


async def commands(redis: Redis) -> int:
    return sum(
        int(v["calls"])
        for stats in await info(redis, "commandstats")
        for k, v in stats.items()
        if k.startswith("cmdstat_")
    )


async def used_memory(redis: Redis) -> int:
    return sum(int(node["used_memory"]) for node in await info(redis, "memory"))


async def memory(redis: Redis, outcomes: int) -> dict[str, float]:
    """Bytes per outcome by MEMORY USAGE per key: live state (the outcome, its timer, its
    steps in flight, its lease, shared sets), history (measurements, audit trail, finished
    steps and the step list) and the job stream (a queue, not state)."""
    keys = [key async for key in redis.scan_iter(match=f"{PREFIX}:*", count=5000)]
    totals = {"live": 0, "history": 0, "queue": 0, "chain": 0}
    for chunk in range(0, len(keys), 1000):
        batch = keys[chunk : chunk + 1000]
        pipe = redis.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key, samples=0)
            pipe.hget(key, "data") if b":step:" in key else pipe.exists(key)
        replies = await pipe.execute()
        for key, size, data in zip(batch, replies[::2], replies[1::2], strict=True):
            totals[_kind(key.decode(), data)] += int(size or 0)
    return {kind: total / outcomes for kind, total in totals.items()}


def _kind(key: str, data: Any) -> str:
    if key.endswith(":jobs"):
        return "queue"
    if ":audit:T1" in key:
        return "chain"  # the workspace's: shared by its outcomes
    if ":step:" in key:
        return "live" if b'"finished_at":null' in data else "history"
    return "history" if any(mark in key for mark in HISTORY) else "live"


async def run(
    url: str, workspace: Path, db: Path, outcomes: int, workers: int, seconds: float, warmup: float
) -> dict[str, Any]:
    """One configuration: confirm, warm up, measure a window, read memory."""
    redis = redis_client(url)
    await target.clear(redis, PREFIX)
    ctx = context(redis, workspace, db, url=url)
    await ctx.queue.ensure_group()
    empty = await used_memory(redis)
    await confirm(ctx, outcomes)
    began = time.monotonic() + warmup  # workers start and settle before the window
    times = (began, began + seconds, began + seconds + 0.5)
    procs = [mp.get_context("spawn").Queue() for _ in range(workers)]
    children = [
        mp.get_context("spawn").Process(target=work, args=(url, str(workspace), str(db), times, q))
        for q in procs
    ]
    for child in children:
        child.start()
    clock = asyncio.create_task(move_timers(ctx, times[2]))
    await asyncio.sleep(began - time.monotonic())
    calls0, ticks0, cpu0 = await commands(redis), await _ticks(ctx), await redis_cpu(redis)
    await asyncio.sleep(times[1] - time.monotonic())
    elapsed = time.monotonic() - began
    calls1, ticks1, cpu1 = await commands(redis), await _ticks(ctx), await redis_cpu(redis)
    reports = [await asyncio.to_thread(q.get) for q in procs]
    timed = [d for r in reports for t, d in r["timed"] if began <= t <= began + elapsed]
    for child in children:
        child.join()
    await clock
    used = await used_memory(redis) - empty
    ticks = ticks1 - ticks0
    result = {
        "outcomes": outcomes,
        "workers": workers,
        "ticks_per_s": ticks / elapsed,
        "commands_per_tick": (calls1 - calls0 - 4) / max(ticks, 1),
        "trips_per_tick": sum(r["trips"] for r in reports)
        / max(sum(r["ticks"] for r in reports), 1),
        "p50_ms": 1000 * statistics.median(timed),
        "p99_ms": 1000 * statistics.quantiles(timed, n=100)[98],
        "ms_per_tick_1w": 1000 * elapsed * workers / max(ticks, 1),
        "cpu_ms_per_tick": 1000
        * sum(r["cpu"] for r in reports)
        / max(sum(r["window_ticks"] for r in reports), 1),
        "redis_cpu_ms_per_tick": 1000 * (cpu1 - cpu0) / max(ticks, 1),
        "used_memory_per_outcome": used / outcomes,
        "jobs_per_tick": _jobs_per_tick(reports),
        **{f"bytes_{k}": v for k, v in (await memory(redis, outcomes)).items()},
    }
    await target.clear(redis, PREFIX)
    await redis.aclose()
    return result


async def cycle_cost(
    url: str, workspace: Path, db: Path, outcomes: int, cycles: int
) -> dict[str, Any]:
    """CPU per tick with a fixed job mix, in this process: each cycle moves every due tick
    into the stream and drains it (every tick with its step execution and notices), so
    the figure does not depend on how far a timed window got; two cycles warm up first."""
    redis = redis_client(url, worker=True)
    await target.clear(redis, PREFIX)
    ctx = context(redis, workspace, db, url=url)
    await ctx.queue.ensure_group()
    await confirm(ctx, outcomes)
    runtime = Runtime(ctx, Sink(), name=consumer_name("bench"))
    kinds: Counter[str] = Counter()
    always = (0.0, float("inf"))
    for message, _ in runtime.worker.handlers.items():
        runtime.worker.handlers.wrap(message, _counted(message, kinds, always))

    async def cycle() -> None:
        await ctx.queue.move_due(ctx.clock.now(), limit=outcomes)
        while await runtime.worker.run_once(block_ms=None, count=10):
            pass

    for _ in range(2):
        await cycle()
    kinds.clear()
    trips = count_round_trips()
    cpu, server = time.process_time(), await redis_cpu(redis)
    for _ in range(cycles):
        await cycle()
    cpu, server = time.process_time() - cpu, await redis_cpu(redis) - server
    ticks = max(kinds[Tick.KIND], 1)
    await target.clear(redis, PREFIX)
    await redis.aclose()
    return {
        "cpu_ms_per_tick": 1000 * cpu / ticks,
        "redis_cpu_ms_per_tick": 1000 * server / ticks,
        "trips_per_tick": trips[0] / ticks,
        "jobs_per_tick": {kind: count / ticks for kind, count in sorted(kinds.items())},
    }


ARCHIVE_EVERY = 1
"""Ticks (clock hours) between archive runs in the aging mode: the clock's cron runs it
every 10 minutes, so at least once between two hourly ticks."""


async def aging(
    url: str, workspace: Path, db: Path, outcomes: int, age: int, cycles: int, archive: bool
) -> dict[str, Any]:
    """Memory per outcome and CPU per tick, fresh and after `age` ticks each (an hour of
    the clock per tick), with the archive running every `ARCHIVE_EVERY` ticks (or never)."""
    redis = redis_client(url, worker=True)
    await target.clear(redis, PREFIX)
    clock = ManualClock(datetime.now(UTC))
    ctx = context(redis, workspace, db, clock)
    history = HistoryStore(f"sqlite:///{db.parent / f'history-{uuid.uuid4().hex[:6]}.sqlite3'}")
    ctx.store.history = history
    archiver = Archiver(ctx.store, history, clock, Retention())
    await ctx.queue.ensure_group()
    empty = int((await redis.info("memory"))["used_memory"])
    await confirm(ctx, outcomes)
    runtime = Runtime(ctx, Sink(), name=consumer_name("bench"))
    kinds: Counter[str] = Counter()
    for kind, handler in list(runtime.worker.handlers.items()):
        runtime.worker.handlers[kind] = _counted(kind, handler, kinds, (0.0, float("inf")))

    async def cycle() -> None:
        clock.advance(timedelta(hours=1))
        await ctx.queue.move_due(clock.now(), limit=outcomes)
        while await runtime.worker.run_once(block_ms=None, count=10):
            pass

    async def cost() -> dict[str, float]:
        before = kinds[Tick.KIND]
        cpu, server = time.process_time(), await redis_cpu(redis)
        for _ in range(cycles):
            await cycle()
        ticks = max(kinds[Tick.KIND] - before, 1)
        return {
            "cpu_ms": 1000 * (time.process_time() - cpu) / ticks,
            "redis_ms": 1000 * (await redis_cpu(redis) - server) / ticks,
        }

    for _ in range(2):
        await cycle()
    fresh = await cost()
    for n in range(age - 2 - 2 * cycles):
        await cycle()
        if archive and n % ARCHIVE_EVERY == 0:
            await archiver.run()
    aged = await cost()
    if archive:  # memory as the archive leaves it (it runs every 10 minutes)
        await archiver.run()
    used = int((await redis.info("memory"))["used_memory"]) - empty
    mem = await memory(redis, outcomes)
    finished = len(await ctx.store.steps("o0"))
    stored = await history.counts()
    await history.close()
    await target.clear(redis, PREFIX)
    await redis.aclose()
    return {
        "fresh": fresh,
        "aged": aged,
        "bytes": mem,
        "used_memory_per_outcome": used / outcomes,
        "steps_per_outcome": finished,
        "stored": stored,
    }


async def scrape_ms(url: str, workspace: Path, db: Path, outcomes: int, tries: int = 5) -> float:
    """The median time of a `/metrics` scrape (read and render) with `outcomes` outcomes."""
    redis = Redis.from_url(url)
    await target.clear(redis, PREFIX)
    ctx = context(redis, workspace, db)
    await ctx.queue.ensure_group()
    await confirm(ctx, outcomes)
    await _tally_every_kind(ctx)
    times = []
    for _ in range(tries):
        began = time.perf_counter()
        exposition(await snapshot(ctx))
        times.append(time.perf_counter() - began)
    await target.clear(redis, PREFIX)
    await redis.aclose()
    return 1000 * statistics.median(times)


async def _tally_every_kind(ctx: Context) -> None:
    """Fill the job tallies as a long-running install has them: every job kind the worker
    handles, every way a job can end, latencies across the buckets."""
    tally = Runtime(ctx, Sink(), name=consumer_name("bench")).worker.tally
    for kind in Runtime(ctx, Sink()).job_handlers():
        for n, outcome in enumerate(JOB_OUTCOMES):
            for seconds in JOB_BUCKETS_S:
                tally.record(kind, outcome, seconds * (n + 1) / 3)
    await tally.flush()


async def _aging(url: str, workspace: Path, db: Path, args: argparse.Namespace) -> None:
    for outcomes in args.outcomes:
        r = await aging(url, workspace, db, outcomes, args.age, args.cycles or 5, args.archive)
        fresh, aged, mem = r["fresh"], r["aged"], r["bytes"]
        ratio = (aged["cpu_ms"] + aged["redis_ms"]) / (fresh["cpu_ms"] + fresh["redis_ms"])
        moving = f"archive every {ARCHIVE_EVERY} ticks" if args.archive else "no archive"
        print(
            f"{outcomes:>6} outcomes aged {args.age} ticks ({moving}), "
            f"{r['steps_per_outcome']} steps each: Redis {mem['live'] + mem['history']:.0f} "
            f"B/outcome (live {mem['live']:.0f}, history {mem['history']:.0f}; the workspace's "
            f"audit chain {mem['chain']:.0f}; job stream {mem['queue']:.0f}; used_memory delta "
            f"{r['used_memory_per_outcome']:.0f}); "
            f"CPU/tick fresh: worker {fresh['cpu_ms']:.2f} ms, Redis {fresh['redis_ms']:.2f} ms; "
            f"aged: worker {aged['cpu_ms']:.2f} ms, Redis {aged['redis_ms']:.2f} ms "
            f"({ratio:.2f}x); "
            f"history store rows: {r['stored']}"
        )


def _jobs_per_tick(reports: list[dict[str, Any]]) -> dict[str, float]:
    """Jobs of each kind the workers handled in the window, per tick handled there."""
    kinds: Counter[str] = Counter()
    for report in reports:
        kinds.update(report["kinds"])
    ticks = max(kinds[Tick.KIND], 1)
    return {kind: count / ticks for kind, count in sorted(kinds.items())}


async def redis_cpu(redis: Redis) -> float:
    """The server's CPU seconds, or the sum of a cluster's primaries' (all their clients:
    on a shared server, others' too)."""
    return sum(
        float(node["used_cpu_user"]) + float(node["used_cpu_sys"])
        for node in await info(redis, "cpu")
    )


async def _ticks(ctx: Context) -> int:
    return (await counters.read(ctx.store.redis, ctx.keys)).get((counters.TICKS, ""), 0)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target.add_redis_option(parser)
    parser.add_argument("--outcomes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--peer-steps",
        type=int,
        default=2000,
        help="steps of the LangGraph peer (needs the `bench` extra); 0 skips the comparison",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=3.0,
        help="seconds before the window; with many outcomes the first seconds are mostly "
        "first ticks, so a longer warm-up measures the steady mix of ticks, step executions "
        "and notices",
    )
    parser.add_argument(
        "--cycles",
        type=int,
        default=0,
        help="instead of timed windows: CPU per tick over this many move-and-drain cycles "
        "in one process (a fixed mix of jobs per tick, so less noisy on a shared machine)",
    )
    parser.add_argument(
        "--age",
        type=int,
        default=0,
        help="instead: tick each outcome this many times (an hour of the clock per tick) and "
        "report memory per outcome and CPU per tick fresh and aged",
    )
    parser.add_argument(
        "--no-archive",
        dest="archive",
        action="store_false",
        help="--age: never move history out of Redis (the figures before the history store)",
    )
    parser.add_argument(
        "--scrape",
        type=int,
        nargs="*",
        default=[],
        help="instead: time a /metrics scrape with each of these numbers of outcomes",
    )
    args = parser.parse_args(argv)
    url = target.redis_url(args.redis_url, os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        workspace, db = prepare(Path(tmp))
        if args.scrape:
            for outcomes in args.scrape:
                ms = await scrape_ms(url, workspace, db, outcomes)
                print(f"/metrics scrape with {outcomes:>7} outcomes: {ms:.1f} ms")
            return
        if args.age:
            print(f"Redis {url}, {os.cpu_count()} cores")
            await _aging(url, workspace, db, args)
            return
        if args.cycles:
            print(f"Redis {url}, {os.cpu_count()} cores")
            await _cycles(url, workspace, db, args.outcomes, args.cycles, args.peer_steps)
            return
        print(
            f"Redis {url}, {os.cpu_count()} cores, "
            f"window {args.seconds:.0f}s after {args.warmup:.0f}s warm-up"
        )
        results = []
        for outcomes in args.outcomes:
            for workers in args.workers:
                r = await run(url, workspace, db, outcomes, workers, args.seconds, args.warmup)
                results.append(r)
                print(
                    f"{outcomes:>6} outcomes {workers} workers: {r['ticks_per_s']:7.0f} ticks/s, "
                    f"{r['trips_per_tick']:4.1f} round trips/tick "
                    f"({r['commands_per_tick']:4.0f} commands), "
                    f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
                    f"live state {r['bytes_live']:.0f} B/outcome "
                    f"(history {r['bytes_history'] + r['bytes_chain']:.0f}, "
                    f"job stream {r['bytes_queue']:.0f}, "
                    f"used_memory delta {r['used_memory_per_outcome']:.0f} B/outcome); "
                    f"CPU/tick: worker {r['cpu_ms_per_tick']:.2f} ms, "
                    f"Redis {r['redis_cpu_ms_per_tick']:.2f} ms; jobs/tick in the window: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in r["jobs_per_tick"].items())
                )
        if not args.peer_steps:
            return
        from bench.loop_peer import langgraph_ms_per_step  # the `bench` extra's LangGraph

        wall, cpu = await langgraph_ms_per_step(Path(tmp), db, args.peer_steps)
        one = [r for r in results if r["workers"] == 1] or results
        baton_wall = statistics.mean(r["ms_per_tick_1w"] for r in one)
        baton_cpu = statistics.mean(r["cpu_ms_per_tick"] + r["redis_cpu_ms_per_tick"] for r in one)
        print(
            f"LangGraph StateGraph + AsyncSqliteSaver: {wall:.2f} ms/step wall, {cpu:.2f} ms CPU; "
            f"Baton, 1 worker: {baton_wall:.2f} ms/tick wall, {baton_cpu:.2f} ms CPU "
            f"(worker + Redis); ratio {wall / baton_wall:.1f}x wall, {cpu / baton_cpu:.1f}x CPU"
        )


async def _cycles(
    url: str, workspace: Path, db: Path, sizes: list[int], cycles: int, peer_steps: int
) -> None:
    r: dict[str, Any] = {}
    for outcomes in sizes:
        r = await cycle_cost(url, workspace, db, outcomes, cycles)
        print(
            f"{outcomes:>6} outcomes, {cycles} cycles in one process: "
            f"{r['trips_per_tick']:4.1f} round trips/tick, CPU/tick: worker "
            f"{r['cpu_ms_per_tick']:.2f} ms, Redis {r['redis_cpu_ms_per_tick']:.2f} ms; jobs/tick: "
            + ", ".join(f"{k} {v:.2f}" for k, v in r["jobs_per_tick"].items())
        )
    if not peer_steps:
        return
    from bench.loop_peer import langgraph_ms_per_step  # the `bench` extra's LangGraph

    _, cpu = await langgraph_ms_per_step(workspace.parent, db, peer_steps)
    baton = r["cpu_ms_per_tick"] + r["redis_cpu_ms_per_tick"]
    print(
        f"LangGraph StateGraph + AsyncSqliteSaver: {cpu:.2f} ms CPU/step; Baton "
        f"{baton:.2f} ms CPU/tick (worker + Redis, last size); ratio {cpu / baton:.1f}x CPU"
    )


if __name__ == "__main__":
    asyncio.run(main())
