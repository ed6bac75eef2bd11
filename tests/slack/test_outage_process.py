"""A Slack outage with real processes: two `baton worker` and a `baton clock` on one Redis.

Slack answers 500 while notices queue up; the workers keep them (no dead letters), and once
Slack answers again every notice arrives in the order it was queued, none twice, although
the two workers take turns at them and one is killed mid-outage.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.models import ConversationRef
from orchestrator.notify.notices import Notice, NoticeKind
from orchestrator.runtime.context import Context
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import (
    Processes,
    clean,
    context,
    reachable_redis,
    unique_prefix,
    until,
)
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET

WHERE = ConversationRef(platform="slack", workspace="T1", channel="C1")
NOTICES = 12
OUTAGE_S = 20.0
"""Longer than a failing job's five attempts took before (about 15 s of backoff)."""


@pytest.fixture
async def running(
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
        "BATON_CLOCK_EVERY_S": "0.2",
        "BATON_WORKER_VISIBILITY_S": "3",
        "BATON_SHUTDOWN_GRACE_S": "3",
        "BATON_LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "BATON_AUDIT_KEY": "outage-audit-key-" + "0" * 32,  # production serving Slack
        "SLACK_API_URL": slack_api.base_url,
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


async def test_notices_outlast_an_outage_in_order_across_workers(
    running: tuple[Context, Processes], slack_api: SlackApiDouble
) -> None:
    ctx, processes = running
    slack_api.down(500)
    workers = [processes.spawn("worker"), processes.spawn("worker")]
    processes.spawn("clock")
    expected = [f"notice {n}" for n in range(NOTICES)]
    for text in expected:
        await ctx.say(Notice(kind=NoticeKind.CHAT, conversation=WHERE, text=text))
        await asyncio.sleep(0.2)

    async def refused_a_while() -> bool:
        return slack_api.refused >= 6

    assert await until(refused_a_while, rounds=300)
    processes.kill(workers[0], signal.SIGKILL)  # one worker dies while the outage lasts
    await asyncio.sleep(OUTAGE_S)
    assert slack_api.called("chat.postMessage") == []
    slack_api.up()

    async def all_posted() -> bool:
        return len(slack_api.texts()) >= NOTICES

    assert await until(all_posted, rounds=900)
    await asyncio.sleep(1)  # nothing more comes
    assert slack_api.texts() == expected  # every one, in order, none twice
    assert await ctx.queue.dead() == 0
