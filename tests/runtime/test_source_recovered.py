"""A metric source that fails pages on-call once; when it answers again, the page is resolved."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.notify.paging import PagerDutyPager
from orchestrator.outcomes.loop import MEASURE_FAILURES_FOR_INCIDENT
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness
from tests.runtime.receiver import LOCAL, PageReceiver


@pytest.fixture
async def paged(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business, receiver: PageReceiver
) -> AsyncIterator[Harness]:
    built = build_harness(redis, keys, workspace, business)
    built.runtime.pager = PagerDutyPager(
        "R0UTINGKEY", receiver.url + "/v2/enqueue", allow_private=LOCAL
    )
    await built.runtime.start()
    yield built
    await built.connectors.close()


def _rename(business: Business, old: str, new: str) -> None:
    with closing(sqlite3.connect(business.path)) as conn:
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")
        conn.commit()


async def _next_tick(harness: Harness) -> None:
    harness.clock.advance(timedelta(days=1))
    await harness.runtime.drain()


async def test_source_back_resolves_the_page(paged: Harness, receiver: PageReceiver) -> None:
    harness = paged
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    await _next_tick(harness)
    assert receiver.bodies == []  # a source that answers pages nobody

    _rename(harness.business, "customers", "customers_moved")  # the source breaks
    for _ in range(MEASURE_FAILURES_FOR_INCIDENT + 1):
        await _next_tick(harness)
    (trigger,) = receiver.bodies  # paged once, not on every failed reading
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["class"] == "metric_source_down"

    measured = len(await harness.store.measurements(outcome_id))
    _rename(harness.business, "customers_moved", "customers")  # and is fixed
    await _next_tick(harness)
    assert len(await harness.store.measurements(outcome_id)) == measured + 1
    assert len(receiver.bodies) == 2
    resolve = receiver.bodies[-1]
    assert resolve == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }
    await _next_tick(harness)
    assert len(receiver.bodies) == 2  # resolved once, the source still answering
