"""Acknowledgement latency of signed Slack button clicks: `baton web` vs a bare Bolt AsyncApp.

Usage: python bench/slack_ack.py [--seconds 20] [--concurrency 50]
Uses REDIS_URL when set, else the embedded Redis in a temporary state directory.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.demo.simulation import Business
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
                signing_secret=sys.argv[3])
@bolt.action({"action_id": "baton_approve"})
async def only_ack(ack): await ack()
async def events(request):
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))
app = web.Application(); app.router.add_post("/slack/events", events)
app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


async def load(url: str, seconds: float, concurrency: int) -> dict[str, float]:
    """Signed clicks from `concurrency` clients for `seconds`; latency percentiles in ms."""
    numbers = itertools.count(1)
    latencies: list[float] = []
    errors = 0
    end = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.monotonic() < end:
            n = next(numbers)
            payload = block_action(
                "approve", "a999", user="alice", channel="C1", ts="1.000001", thread=None, n=n
            )
            body = urlencode({"payload": json.dumps(payload)})
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


async def main(seconds: float, concurrency: int) -> None:
    double = SlackApiDouble()
    await double.start()
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp:
        business = Business(Path(tmp) / "crm.sqlite3")
        business.create(customers=50)
        baton = Baton(baton_env(double.base_url, Path(tmp) / "state", business.path), Path(tmp))
        await baton.start(worker=False)
        try:
            await load(baton.url, 2, concurrency)  # warm-up: auth.test, connections
            ours = await load(baton.url, seconds, concurrency)
        finally:
            await baton.stop()
        port = free_port()
        bare = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BARE, str(port), double.base_url, SIGNING_SECRET
        )
        try:
            await _until_up(f"http://127.0.0.1:{port}")
            await load(f"http://127.0.0.1:{port}", 2, concurrency)
            floor = await load(f"http://127.0.0.1:{port}", seconds, concurrency)
        finally:
            bare.terminate()
            await bare.wait()
    await double.stop()
    _report(ours, floor, seconds, concurrency)


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


def _report(ours: dict[str, float], floor: dict[str, float], seconds: float, c: int) -> None:
    print(f"signed button clicks, {c} concurrent, {seconds:g} s each")
    print("| server | requests | p50 ms | p99 ms | req/s | non-2xx |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in (("baton web", ours), ("bare Bolt AsyncApp (ack only)", floor)):
        print(
            f"| {name} | {r['requests']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
            f"| {r['per_s']:.0f} | {r['non_2xx']:.0f} |"
        )
    print(f"p99 ratio baton/bare: {ours['p99_ms'] / floor['p99_ms']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency))
