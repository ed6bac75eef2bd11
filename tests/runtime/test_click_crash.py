"""`kill -9` of a worker at each Redis write of an acknowledged click: no decision is lost.

Clicks are signed requests to a running `baton web`, which acknowledges and queues them.
A `baton worker` takes each one through a proxy that kills it with SIGKILL at its Nth write
(N = 0, 1, 2, ...: before the decision, between the decision and the acknowledgement, in
the work the decision queued). Another worker then takes over what was left. Every click is
decided exactly once and its approval card says so.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bot.demo.simulation import Business
from handlers.cards import Click, Inbound
from orchestrator.models import ApprovalStatus, ConversationRef
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.killing_proxy import KillingProxy
from tests.runtime.processes import clean, reachable_redis, unique_prefix, until
from tests.slack.conftest import block_action, interaction_body, sign
from tests.slack.processes import baton_env, seeding_app, spawn

KILL_POINTS = 6
"""Writes let through before the kill: 0 (before the decision) up to past the click's own."""
SLACK = ConversationRef(platform="slack", workspace="T1", channel="C1")
STATEMENT = "Cut monthly churn by 2 points by end of Q1"


async def _seed(env: dict[str, str], slack_api: SlackApiDouble, count: int) -> None:
    """`count` outcomes stated and confirmed in Slack, each with its approval card posted."""
    app = await seeding_app(env)

    async def settled(probe: Callable[[], bool]) -> bool:
        await app.runtime.drain()  # posts are paced per channel: some wait their turn
        return probe()

    try:
        await app.runtime.start()
        for n in range(count):
            where = SLACK.model_copy(update={"channel": f"C{n}"})  # one pace per channel
            said = Inbound(where, "olivia", STATEMENT, delivery_id=f"seed-statement-{n}")
            await app.conversation.on_message(said)

            def stated(count: int = n + 1) -> bool:
                return len(slack_api.buttons("confirm")) >= count

            assert await until(lambda: settled(stated))
            session = slack_api.buttons("confirm")[-1][0]
            confirm = Click(where, "olivia", "confirm", session, delivery_id=f"seed-{n}")
            await app.conversation.on_click(confirm)
        assert await until(lambda: settled(lambda: len(slack_api.buttons("approve")) == count))
    finally:
        await app.close()


async def test_a_worker_killed_at_any_write_of_a_click_loses_no_decision(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> None:
    url = await reachable_redis()
    redis = Redis.from_url(url)
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        REDIS_URL=url,
        BATON_KEY_PREFIX=unique_prefix(),
        # No doomed worker lives long enough to take over another's job: only the last one.
        BATON_WORKER_VISIBILITY_S="120",
    )
    store = RedisStore(redis, Keys(env["BATON_KEY_PREFIX"]))
    proxy = KillingProxy(url)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await _seed(env, slack_api, KILL_POINTS)
        cards = {value: ts for value, ts, _ in slack_api.buttons("approve")}
        assert len(cards) == KILL_POINTS, cards
        processes.append(spawn("web", env, tmp_path / "web.log"))
        base = f"http://127.0.0.1:{env['PORT']}"
        await proxy.start()
        async with aiohttp.ClientSession() as http:
            assert await until(lambda: _healthy(http, base), rounds=300), _log(tmp_path, "web")
            for n, (approval_id, ts) in enumerate(sorted(cards.items())):
                doomed = spawn("worker", {**env, "REDIS_URL": proxy.url}, tmp_path / f"w{n}.log")
                processes.append(doomed)
                proxy.follow(doomed)
                assert await until(lambda: _idle(redis, store, proxy), rounds=300)
                proxy.arm(n)
                channel = await _channel_of(store, approval_id)
                assert await _click(http, base, approval_id, channel, ts, n) == 200
                await asyncio.wait_for(proxy.killed.wait(), timeout=60)
                doomed.wait(timeout=10)
            survivor = {**env, "BATON_WORKER_VISIBILITY_S": "1"}
            processes.append(spawn("worker", survivor, tmp_path / "survivor.log"))

            async def all_decided() -> bool:
                approvals = [await store.approval(a) for a in cards]
                return all(a.status is ApprovalStatus.APPROVED for a in approvals)

            assert await until(all_decided, rounds=900), _log(tmp_path, "survivor")
            assert await until(lambda: _cards_say_approved(slack_api, cards), rounds=600)
        for approval_id in cards:
            approval = await store.approval(approval_id)
            assert approval.decided_by == "alice"
            trail = await store.audit_trail(await store.outcome(approval.outcome_id))
            decided = [e for e in trail if e.subject == f"approval:{approval_id}"]
            assert [e.action for e in decided].count("approval.approved") == 1, approval_id
    finally:
        for process in processes:
            _stop(process)
        await proxy.stop()
        await clean(redis, env["BATON_KEY_PREFIX"])
        await redis.aclose()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


async def _healthy(http: aiohttp.ClientSession, base: str) -> bool:
    try:
        async with http.get(base + "/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def _idle(redis: Redis, store: RedisStore, proxy: KillingProxy) -> bool:
    """The worker behind the proxy reads the stream, and every job so far was handed out,
    so the next job it takes is the click."""
    if proxy.polls < 2:
        return False
    groups = await redis.xinfo_groups(store.keys.jobs())
    return all(int(g.get("lag") or 0) == 0 for g in groups)


async def _channel_of(store: RedisStore, approval_id: str) -> str:
    approval = await store.approval(approval_id)
    return (await store.outcome(approval.outcome_id)).conversation.channel


async def _click(
    http: aiohttp.ClientSession, base: str, approval_id: str, channel: str, ts: str, n: int
) -> int:
    payload = block_action(
        "approve", approval_id, user="alice", channel=channel, ts=ts, thread=None, n=n + 1
    )
    body, kind = interaction_body(payload)
    headers = {"Content-Type": kind, **sign(body)}
    async with http.post(base + "/slack/events", data=body, headers=headers) as response:
        return response.status


async def _cards_say_approved(slack_api: SlackApiDouble, cards: dict[str, str]) -> bool:
    updated = {
        c.params.get("ts"): str(c.params) for c in slack_api.calls if c.method == "chat.update"
    }
    return all("Approved by @alice" in updated.get(ts, "") for ts in cards.values())


def _log(tmp_path: Path, name: str) -> str:
    found = sorted(tmp_path.glob(f"{name}*.log"))
    return found[-1].read_text()[-3000:] if found else ""
