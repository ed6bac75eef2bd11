"""Latency of an approval click: "click -> step running" and "click -> card updated".

Usage: python -m bench.approval_latency [--approvals 30] [--redis-url URL]
Uses the server named with `--redis-url` or `BATON_BENCH_REDIS_URL` (never `REDIS_URL`),
under the run's own key prefix which it deletes afterwards; else the embedded Redis in a
temporary state directory.

`--approvals` outcomes are stated and confirmed in Slack conversations first (each with its
approval card posted to the Slack double). Then `baton web` and a worker (`baton run`) run
as processes, and each approval is clicked once by an approver as a signed Slack request,
one at a time: the time from sending the click to the step's `step.running` audit event
(the worker started executing it) and to the `chat.update` of its card reaching Slack. The
first click, which meets a worker that has just started, is reported apart. With
`--hold-connector-s S`, the CRM is held locked for S seconds from each click, so each step's
connector call takes that long: it says how many cards were updated before it finished.
Between two held clicks it waits for the worker to be idle, unless `--back-to-back`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from bench import target
from bot.demo.simulation import Business
from handlers.cards import Click, Inbound
from orchestrator.models import ConversationRef
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import block_action, interaction_body, sign
from tests.slack.processes import Baton, baton_env, seeding_app

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


async def seed(env: dict[str, str], api: SlackApiDouble, count: int) -> None:
    """`count` outcomes stated and confirmed in Slack channels C0.., each card posted."""
    app = await seeding_app(env)
    try:
        await app.runtime.start()
        for n in range(count):
            where = ConversationRef(platform="slack", workspace="T1", channel=f"C{n}")
            owner = f"owner{n // 10}"  # within the per-person rate limit
            await app.conversation.on_message(Inbound(where, owner, STATEMENT, f"s{n}"))
            await _until(app.runtime.drain, api, "confirm", n)
            session = api.buttons("confirm")[-1][0]
            await app.conversation.on_click(
                Click(where, owner, "confirm", session, delivery_id=f"c{n}")
            )
            await _until(app.runtime.drain, api, "approve", n)
    finally:
        await app.close()


async def _until(
    drain: Callable[[], Awaitable[object]], api: SlackApiDouble, button: str, posted: int
) -> None:
    """Until more than `posted` cards with a `button` button were posted."""
    for _ in range(2000):
        await drain()
        if len(api.buttons(button)) > posted:
            return
        await asyncio.sleep(0.01)
    raise SystemExit("seeding did not finish")


class HeldCrm:
    """The CRM held under an exclusive lock for `seconds` from each click on: every step's
    connector call waits that long, as a slow or busy system of record makes it."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path = path
        self.seconds = seconds
        self.released_at = 0.0

    async def hold(self) -> asyncio.Future[None]:
        """Take the lock (returns once it is held); the future is done once released."""
        taken = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()

        def run() -> None:
            with sqlite3.connect(self.path, isolation_level=None) as db:
                db.execute("BEGIN EXCLUSIVE")
                loop.call_soon_threadsafe(taken.set_result, None)
                time.sleep(self.seconds)
                db.execute("COMMIT")
                self.released_at = time.perf_counter()

        released = loop.run_in_executor(None, run)
        await taken
        return released


async def measure(
    baton: Baton,
    api: SlackApiDouble,
    store: RedisStore,
    held: HeldCrm | None = None,
    back_to_back: bool = False,
) -> tuple[list[float], list[float], int]:
    """Click each approval; the latencies, and how many cards were updated while the
    step's connector call was still waiting (with `held`)."""
    running, card, before_release = [], [], 0
    cards = api.buttons("approve")
    async with aiohttp.ClientSession() as http:
        for n, (approval_id, ts, _) in enumerate(cards):
            if held is not None and not back_to_back:  # the last step's follow-ups done
                await _idle(store)
            released = await held.hold() if held is not None else None
            approval = await store.approval(approval_id)
            channel = (await store.outcome(approval.outcome_id)).conversation.channel
            payload = block_action(
                "approve", approval_id, user="alice", channel=channel, ts=ts, thread=None, n=n + 1
            )
            body, kind = interaction_body(payload)
            updates = len(api.called("chat.update"))
            sent_at, started = datetime.now(UTC), time.perf_counter()
            async with http.post(
                baton.url + "/slack/events",
                data=body,
                headers={"Content-Type": kind, **sign(body)},
            ) as response:
                assert response.status == 200
            while not _updated(api, ts, updates):
                await asyncio.sleep(0.001)
            card.append(time.perf_counter() - started)
            before_release += released is not None and not released.done()
            ran = await _running_at(store, approval.outcome_id, approval.step_id)
            running.append((ran - sent_at).total_seconds())
            if released is not None:
                await released
    return running, card, before_release


async def _idle(store: RedisStore) -> None:
    """Until the worker has no job waiting or in hand."""
    for _ in range(10_000):
        if not await store.redis.xlen(store.keys.jobs()):
            return
        await asyncio.sleep(0.005)
    raise SystemExit("the worker never became idle")


def _updated(api: SlackApiDouble, ts: str, before: int) -> bool:
    calls = api.called("chat.update")[before:]
    return any(c.get("ts") == ts and "Approved by" in str(c) for c in calls)


async def _running_at(store: RedisStore, outcome_id: str, step_id: str) -> datetime:
    for _ in range(5000):
        trail = await store.audit_trail(await store.outcome(outcome_id))
        for event in trail:
            if event.action == "step.running" and event.subject == f"step:{step_id}":
                return event.at
        await asyncio.sleep(0.002)
    raise SystemExit(f"step {step_id} never ran")


def _line(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    return (
        f"{name:<24} n={len(ms):<4} p50 {statistics.median(ms):7.1f} ms   "
        f"p99 {p99:7.1f} ms   max {ms[-1]:7.1f} ms"
    )


async def main(count: int, url: str | None, hold_s: float, back_to_back: bool) -> None:
    api = SlackApiDouble()
    await api.start()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        business = Business(state / "crm.sqlite3")
        business.create()
        env = baton_env(api.base_url, state / "state", business.path)
        env["BATON_KEY_PREFIX"] = target.own_prefix("approval_latency")
        env["REDIS_URL"] = url or f"unix://{state}/state/redis/redis.sock"
        baton = Baton(env, state)
        await baton.start(worker=False)  # starts the embedded Redis when none is given
        redis = Redis.from_url(env["REDIS_URL"])
        try:
            await seed(env, api, count)
            await baton.start_worker()
            store = RedisStore(redis, Keys(env["BATON_KEY_PREFIX"]))
            held = HeldCrm(business.path, hold_s) if hold_s > 0 else None
            running, card, early = await measure(baton, api, store, held, back_to_back)
            # The first click meets a worker that has just started: reported, not counted.
            print(f"first click (cold worker): step running {running[0] * 1000:.1f} ms")
            print(_line("click -> step running", running[1:]))
            print(_line("click -> card updated", card[1:]))
            if held is not None:
                print(f"cards updated while the connector call waited {hold_s:g} s: {early}")
        finally:
            await baton.stop()
            if url:
                await target.clear(redis, env["BATON_KEY_PREFIX"])
            await redis.aclose()
            await api.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--approvals", type=int, default=30)
    parser.add_argument(
        "--hold-connector-s",
        type=float,
        default=0.0,
        help="hold the CRM locked this long from each click (a slow connector call)",
    )
    parser.add_argument(
        "--back-to-back",
        action="store_true",
        help="with a hold, click the next approval without waiting for the worker to be idle",
    )
    target.add_redis_option(parser, required=False)
    args = parser.parse_args()
    url = target.optional_redis_url(args.redis_url, os.environ)
    asyncio.run(main(args.approvals, url, args.hold_connector_s, args.back_to_back))
