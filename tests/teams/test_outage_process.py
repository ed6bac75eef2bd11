"""A Teams outage with real processes: two `baton worker` and a `baton clock` on one Redis.

The Bot Framework connector answers 503 while notices queue up; once it answers again every
notice arrives in the order it was queued, none twice, none dead-lettered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botbuilder.schema import Activity
from redis.asyncio import Redis

from bot.teams.references import ReferenceStore
from orchestrator.models import ConversationRef
from orchestrator.notify.notices import Notice, NoticeKind
from orchestrator.runtime.context import Context
from tests.doubles.bot_connector import BotConnectorDouble
from tests.runtime.processes import (
    Processes,
    clean,
    context,
    reachable_redis,
    unique_prefix,
    until,
)
from tests.teams.activities import CHANNEL_ID, TENANT, message

HERE = ConversationRef(platform="teams", workspace=TENANT, channel=CHANNEL_ID)
NOTICES = 10
OUTAGE_S = 20.0
"""Longer than a failing job's five attempts took before (about 15 s of backoff)."""


@pytest.fixture
async def double() -> AsyncIterator[BotConnectorDouble]:
    connector = BotConnectorDouble()
    await connector.start()
    yield connector
    await connector.stop()


@pytest.fixture
async def running(
    tmp_path: Path, crm_template: Path, double: BotConnectorDouble
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
        "BATON_ENV": "development",  # Teams without authentication, as the double expects
        "BATON_CLOCK_EVERY_S": "0.2",
        "BATON_SHUTDOWN_GRACE_S": "3",
        "BATON_LOG_LEVEL": "WARNING",
    }
    references = ReferenceStore(redis, prefix)
    await references.remember(Activity().deserialize(message("olivia", "hi", double.service_url)))
    processes = Processes(env, tmp_path)
    ctx = context(redis, prefix)
    await ctx.queue.ensure_group()
    try:
        yield ctx, processes
    finally:
        processes.close()
        await clean(redis, prefix)
        await redis.aclose()


async def test_notices_outlast_a_teams_outage_in_order(
    running: tuple[Context, Processes], double: BotConnectorDouble
) -> None:
    ctx, processes = running
    double.down(503)
    processes.spawn("worker")
    processes.spawn("worker")
    processes.spawn("clock")
    expected = [f"notice {n}" for n in range(NOTICES)]
    for text in expected:
        await ctx.say(Notice(kind=NoticeKind.CHAT, conversation=HERE, text=text))
        await asyncio.sleep(0.2)
    await asyncio.sleep(OUTAGE_S)
    assert double.recorded == [] and double.attempts > 0
    double.up()

    async def all_posted() -> bool:
        return len(double.recorded) >= NOTICES

    assert await until(all_posted, rounds=900)
    await asyncio.sleep(1)  # nothing more comes
    assert double.titles() == expected  # every one, in order, none twice
    assert await ctx.queue.dead() == 0
