"""Acknowledgement latency of signed Slack button clicks: `baton web` vs a bare Bolt AsyncApp.

Usage: python -m bench.slack_ack [--seconds 20] [--concurrency 50] [--approvals 60]
Uses the server named with `--redis-url` or `BATON_BENCH_REDIS_URL` (never `REDIS_URL`), under
the run's own key prefix which it deletes afterwards; else the embedded Redis in a temporary
state directory.

The clicks are the ones people make: `--approvals` real pending approvals are seeded first
(outcomes stated and confirmed through the core), then each click approves one of them as an
approver (the first decides it; later ones are told it is already decided), repeats the
previous click (a double click, same action_ts: dropped as a redelivery), or comes from
someone who is not an approver (refused privately, audited).

A click is acknowledged once it is queued; a worker decides it. `baton web` is measured
alone (the clicks wait in the queue, then a worker decides them) and with a worker process
deciding meanwhile on the same cores. The floor is a bare Bolt AsyncApp that only acks, in
Bolt's default mode and with `process_before_response` (which `baton web` uses).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from bench import target
from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from orchestrator.models import ApprovalStatus
from orchestrator.runtime.queue import JobQueue
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.conftest import build_harness
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import SIGNING_SECRET, block_action, sign
from tests.slack.processes import Baton, baton_env, free_port

BARE = """
import asyncio, sys
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.adapter.aiohttp import to_bolt_request, to_aiohttp_response
from slack_sdk.web.async_client import AsyncWebClient
bolt = AsyncApp(client=AsyncWebClient(token="xoxb-test-token", base_url=sys.argv[2]),
                signing_secret=sys.argv[3], process_before_response=bool(sys.argv[4]))
@bolt.action({"action_id": "baton_approve"})
async def only_ack(ack): await ack()
async def events(request):
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))
app = web.Application(); app.router.add_post("/slack/events", events)
app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


MIX = ("alice", "bob", "alice", "bob", "double", "double", "olivia", "alice")
"""Per eight clicks: five by approvers, two double clicks, one by a non-approver."""


def click(n: int, approvals: list[str]) -> dict[str, object]:
    """The n-th click of the mix; a double click repeats click n-1 exactly."""
    who = MIX[n % len(MIX)]
    if who == "double":
        return (
            click(n - 1, approvals)
            if MIX[(n - 1) % len(MIX)] != "double"
            else click(n - 2, approvals)
        )
    approval = approvals[(n // len(MIX)) % len(approvals)]
    return block_action(
        "approve", approval, user=who, channel="C1", ts="1.000001", thread=None, n=n
    )


async def seed(redis_url: str, prefix: str, crm: Path, count: int) -> list[str]:
    """`count` outcomes stated and confirmed through the core, each with a pending approval."""
    redis = Redis.from_url(redis_url)
    harness = build_harness(redis, Keys(prefix), load_workspace(DEMO_WORKSPACE), Business(crm))
    await harness.runtime.start()
    approvals = []
    for _ in range(count):
        await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
        approvals.append(harness.gateway.buttons("approve")[-1])
    await harness.connectors.close()
    await redis.aclose()
    return approvals


async def load(
    url: str, seconds: float, concurrency: int, approvals: list[str], first: int = 1
) -> dict[str, float]:
    """Signed clicks from `concurrency` clients for `seconds`; latency percentiles in ms."""
    numbers = itertools.count(first)
    latencies: list[float] = []
    errors = 0
    end = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.monotonic() < end:
            body = urlencode({"payload": json.dumps(click(next(numbers), approvals))})
            headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
            started = time.perf_counter()
            try:
                async with session.post(url + "/slack/events", data=body, headers=headers) as r:
                    await r.read()
                    errors += r.status >= 300
            except aiohttp.ClientError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
        "per_s": len(latencies) / seconds,
        "non_2xx": errors,
    }


async def main(seconds: float, concurrency: int, count: int, url: str | None) -> None:
    double = SlackApiDouble()
    await double.start()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp:
        business = Business(Path(tmp) / "crm.sqlite3")
        business.create(customers=50)
        for label, worker in (("baton web", False), ("baton web + worker", True)):
            state = Path(tmp) / label.replace(" ", "_").replace("+", "and")
            rows[label], decided = await _ours(
                double, business, state, worker, seconds, count, concurrency, url
            )
            print(f"{label}: approvals decided by the clicks: {decided} of {count} seeded")
        for label, before in (
            ("bare Bolt (default)", False),
            ("bare Bolt (process_before_response)", True),
        ):
            rows[label] = await _bare(double, before, seconds, concurrency)
    await double.stop()
    _report(rows, seconds, concurrency)


async def _ours(
    double: SlackApiDouble,
    business: Business,
    state: Path,
    worker: bool,
    seconds: float,
    count: int,
    concurrency: int,
    url: str | None,
) -> tuple[dict[str, float], int]:
    """Clicks against `baton web` (with a worker process deciding them meanwhile, or not);
    then, with a worker in any case, how many of the seeded approvals ended decided."""
    env = baton_env(double.base_url, state / "state", business.path)
    env.pop("REDIS_URL", None)  # only a server the benchmark was given
    if url:
        env["REDIS_URL"] = url
    baton = Baton(env, state)
    state.mkdir(parents=True, exist_ok=True)
    await baton.start(worker=False)
    redis_url = env.get("REDIS_URL") or f"unix://{state}/state/redis/redis.sock"
    try:
        approvals = await seed(redis_url, env["BATON_KEY_PREFIX"], business.path, count)
        if worker:
            await baton.start_worker()
        # Warm-up on an id that does not exist: decides nothing.
        await load(baton.url, 2, concurrency, ["a999"], first=10**7)
        row = await load(baton.url, seconds, concurrency, approvals)
        if not worker:
            await baton.start_worker()
        decided = await _decided(redis_url, env["BATON_KEY_PREFIX"], approvals)
    finally:
        await baton.stop()
        if url:  # the embedded Redis goes with the temporary directory
            await _clean(url, env["BATON_KEY_PREFIX"])
    return row, decided


async def _bare(
    double: SlackApiDouble, before_response: bool, seconds: float, concurrency: int
) -> dict[str, float]:
    port = free_port()
    flag = "1" if before_response else ""
    bare = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BARE, str(port), double.base_url, SIGNING_SECRET, flag
    )
    try:
        await _until_up(f"http://127.0.0.1:{port}")
        await load(f"http://127.0.0.1:{port}", 2, concurrency, ["a999"], first=10**7)
        return await load(f"http://127.0.0.1:{port}", seconds, concurrency, ["a1"])
    finally:
        bare.terminate()
        await bare.wait()


async def _decided(redis_url: str, prefix: str, approvals: list[str]) -> int:
    """Approved among `approvals`, once the queued clicks are done (at most a minute)."""
    store = RedisStore(Redis.from_url(redis_url), Keys(prefix))
    queue = JobQueue(store.redis, store.keys)
    for _ in range(600):
        if await queue.backlog() == 0:
            break
        await asyncio.sleep(0.1)
    found = [await store.approval(a) for a in approvals]
    await store.redis.aclose()
    return sum(1 for a in found if a.status is ApprovalStatus.APPROVED)


async def _clean(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    await target.clear(redis, prefix)
    await redis.aclose()


async def _until_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise SystemExit("the bare Bolt app did not start")


def _report(rows: dict[str, dict[str, float]], seconds: float, c: int) -> None:
    print(
        "signed button clicks (approvals, double clicks, non-approvers), "
        f"{c} concurrent, {seconds:g} s each"
    )
    print("| server | requests | p50 ms | p99 ms | req/s | non-2xx |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        print(
            f"| {name} | {r['requests']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['per_s']:.0f} | {r['non_2xx']:.0f} |"
        )
    ours, floor = rows["baton web"], rows["bare Bolt (default)"]
    print(f"p99 ratio baton web / bare Bolt (default): {ours['p99_ms'] / floor['p99_ms']:.2f}")
    tight = rows["bare Bolt (process_before_response)"]
    ratio = ours["p99_ms"] / tight["p99_ms"]
    print(f"p99 ratio baton web / bare Bolt (process_before_response): {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--approvals", type=int, default=60)
    target.add_redis_option(parser, required=False)
    args = parser.parse_args()
    url = target.optional_redis_url(args.redis_url, os.environ)
    asyncio.run(main(args.seconds, args.concurrency, args.approvals, url))
