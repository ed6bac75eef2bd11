"""`kill -9` of a worker after Slack took its post but before it heard back: one message.

Slack's Web API double records the post (it is in the channel) and keeps its answer back; the
worker is killed with SIGKILL meanwhile, so Baton never learns the message's ts. A new worker
takes the job over, finds the message by the metadata it was posted with, and keeps that
message's ts instead of posting a second one: for a notice, and for a statement's anchor.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.models import ConversationRef
from orchestrator.notify.notices import Notice, NoticeKind
from orchestrator.runtime.context import Context
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import Processes, clean, context, reachable_redis, unique_prefix
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, command_body
from tests.slack.processes import baton_env, eventually, serving

WHERE = ConversationRef(platform="slack", workspace="T1", channel="C1")
STATEMENT = "Cut monthly churn by 2% by the end of Q1, with a budget of £500"


@pytest.fixture
async def workers(
    tmp_path: Path, crm_template: Path, slack_api: SlackApiDouble
) -> AsyncIterator[tuple[Context, Processes]]:
    url = await reachable_redis()
    redis = Redis.from_url(url)
    prefix = unique_prefix()
    db = tmp_path / "crm.sqlite3"
    db.write_bytes(crm_template.read_bytes())
    env = {
        "REDIS_URL": url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_DEMO_DB": str(db),
        "BATON_WORKER_VISIBILITY_S": "2",
        "BATON_SHUTDOWN_GRACE_S": "3",
        "BATON_LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "BATON_AUDIT_KEY": "post-once-audit-key-" + "0" * 32,
        "SLACK_API_URL": slack_api.base_url,
    }
    processes = Processes(env, tmp_path)
    ctx = context(redis, prefix)
    await ctx.queue.ensure_group()
    try:
        yield ctx, processes
    finally:
        slack_api.release()
        processes.close()
        await clean(redis, prefix)
        await redis.aclose()


async def test_a_notice_posted_as_its_worker_dies_is_found_not_posted_again(
    workers: tuple[Context, Processes], slack_api: SlackApiDouble
) -> None:
    ctx, processes = workers
    slack_api.hold("chat.postMessage")
    first = processes.spawn("worker")
    await ctx.say(Notice(kind=NoticeKind.CHAT, conversation=WHERE, text="Churn is on track"))
    await eventually(lambda: slack_api.messages("C1"), "Slack to take the post")
    processes.kill(first, signal.SIGKILL)  # Slack has the message; Baton never heard its ts
    slack_api.release()

    processes.spawn("worker")
    recorded = await eventually_recorded(ctx, "notice:*")
    messages = slack_api.messages("C1")
    assert [m["text"] for m in messages] == ["Churn is on track"]  # once, not twice
    assert recorded == messages[0]["ts"]
    assert slack_api.called("conversations.history")  # found by its metadata
    assert await ctx.queue.dead() == 0


async def test_a_statements_anchor_posted_as_its_worker_dies_is_posted_once(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> None:
    env = baton_env(
        slack_api.base_url, tmp_path / "state", business.path, BATON_WORKER_VISIBILITY_S="2"
    )
    async with serving(env, tmp_path) as baton:
        slack_api.hold("chat.postMessage")
        status, _ = await baton.post(*command_body(STATEMENT, user="olivia", trigger="t1"))
        assert status == 200
        await eventually(lambda: slack_api.messages("C1"), "Slack to take the anchor")
        worker = baton.processes.pop()
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        slack_api.release()

        await baton.start_worker()
        question = await eventually(
            lambda: [m for m in slack_api.messages("C1") if "percentage points" in m["text"]],
            "the clarifying question in the anchor's thread",
        )
        anchors = [m for m in slack_api.messages("C1") if "stated an outcome" in m["text"]]
        assert len(anchors) == 1  # found by its metadata, not posted again
        assert question[0]["thread_ts"] == anchors[0]["ts"]
        assert slack_api.called("conversations.history")


async def eventually_recorded(ctx: Context, delivery: str) -> str:
    """The ts a delivery's first call recorded, once it has (the call log in Redis)."""
    redis = ctx.store.redis
    for _ in range(600):
        async for key in redis.scan_iter(match=ctx.keys.dedupe(f"calls:{delivery}")):
            answer = await redis.hget(key, "1")
            if answer is not None:
                return str(orjson.loads(answer)["ts"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer recorded for {delivery}")
