"""Earned autonomy with the CRM in PostgreSQL: the demo's customers copied into a schema
of their own, the at-risk count and its per-customer reads, the audience and the sends
all through the sql connector on PostgreSQL. The business's days pass in SQL: the day
moves on, and two in three customers emailed come back (a fixed rule, by id)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import create_engine, text

from bot.demo.simulation import SCHEMA, Business
from orchestrator.models import StepStatus
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness
from tests.learning.test_autonomy import STATEMENTS, approve_next, earning

COPIED = ("sim", "customers")


@pytest.fixture
def postgres_crm(crm_template: Path) -> Iterator[str]:
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set")
    schema = f"baton_autonomy_{uuid.uuid4().hex[:8]}"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        for statement in filter(str.strip, SCHEMA.split(";")):
            conn.execute(text(statement))
        with closing(sqlite3.connect(crm_template)) as source:
            for table in COPIED:
                cursor = source.execute(f"SELECT * FROM {table}")
                names = [d[0] for d in cursor.description]
                rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
                listed = ", ".join(f":{n}" for n in names)
                conn.execute(
                    text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({listed})"), rows
                )
    engine.dispose()
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
async def harness(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business, postgres_crm: str
) -> AsyncIterator[Harness]:
    earned = earning(workspace)
    crm = earned.connections["crm"].model_copy(update={"url": postgres_crm})
    on_postgres = earned.model_copy(update={"connections": {**earned.connections, "crm": crm}})
    built = build_harness(redis, keys, on_postgres, business)
    await built.runtime.start()
    yield built
    await built.connectors.close()


async def business_days(harness: Harness, url: str, count: int) -> None:
    engine = create_engine(url)
    for _ in range(count):
        with engine.begin() as conn:
            conn.execute(text("UPDATE sim SET day = day + 1"))
            conn.execute(
                text(
                    "UPDATE customers SET last_active_day = (SELECT day FROM sim) "
                    "WHERE id % 3 <> 0 AND id IN "
                    "(SELECT customer_id FROM outbox WHERE day = (SELECT day FROM sim) - 1)"
                )
            )
        harness.clock.advance(timedelta(days=1))
        await harness.runtime.drain()
    engine.dispose()


async def test_earned_autonomy_on_a_postgresql_crm(harness: Harness, postgres_crm: str) -> None:
    for statement in STATEMENTS[:2]:
        _, replies = await approve_next(harness, statement)
        assert replies == []
    await business_days(harness, postgres_crm, 4)
    listed = (await harness.say("olivia", "evidence"))[0].card.lines
    assert any(line.startswith("send_winback on at_risk_customers: ") for line in listed)
    approval_id, replies = await approve_next(harness, STATEMENTS[2])
    (offer,) = replies
    assert [(b.action, b.value) for b in offer.card.buttons] == [("autonomy", approval_id)]
    (added,) = await harness.click("bob", "autonomy", approval_id)
    assert added.card.title.startswith("Rule added by @bob: auto-approve send_winback")

    asked = set(harness.gateway.buttons("approve"))
    outcome = await harness.state("olivia", STATEMENTS[3])
    assert set(harness.gateway.buttons("approve")) == asked
    (sent,) = [s for s in await harness.store.steps(outcome) if s.action == "send_winback"]
    assert sent.status is StepStatus.SUCCEEDED
    engine = create_engine(postgres_crm)
    with engine.connect() as conn:
        written = conn.execute(
            text("SELECT COUNT(*) FROM outbox WHERE idempotency_key = :k"), {"k": sent.id}
        ).scalar_one()
    engine.dispose()
    assert sent.holdout is not None and written == len(sent.holdout.treated) > 0
