"""Readers read history wherever it is: after the archive moves the old part of an outcome's
history to the SQL store, `/outcome status` and `audit`, the chart's series, the digest,
`baton audit export` and the chain's verification read exactly what they read before."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from handlers.digest import digest_cards
from orchestrator.history.archive import Archiver, Retention
from orchestrator.history.store import HistoryStore
from orchestrator.notify.notices import Notice, NoticeKind
from orchestrator.store import redis_store
from orchestrator.store.audit import export, verify
from tests.conftest import Harness

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
SMALL = Retention(live_audit=5, live_measurements=2, batch=3)
"""Small batches, so one run moves everything in several."""


@pytest.fixture(autouse=True)
def small_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ticks read the last two steps in full, so the demo's few steps leave Redis."""
    monkeypatch.setattr(redis_store, "TICK_WINDOW", 2)


async def _run_days(harness: Harness, days: int) -> str:
    outcome_id = await harness.state("olivia", STATEMENT)
    for _ in range(days):
        for approval in harness.gateway.buttons("approve"):
            await harness.click("alice", "approve", approval)
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    return outcome_id


async def _readings(harness: Harness, outcome_id: str) -> dict[str, object]:
    store = harness.store
    outcome = await store.outcome(outcome_id)
    where = outcome.conversation.model_copy(update={"thread": None})
    since = harness.clock.now() - timedelta(days=60)
    digest = await digest_cards(
        store,
        harness.runtime.ctx.workspace_of,
        Notice(
            kind=NoticeKind.DIGEST,
            conversation=where,
            data={"outcomes": [outcome_id], "since": since.isoformat()},
        ),
    )
    status = (await harness.say("bob", f"/outcome status {outcome_id}"))[0].card
    audit = (await harness.say("bob", f"audit {outcome_id}"))[0].card
    return {
        "steps": [s.model_dump_json() for s in await store.steps(outcome_id)],
        "measurements": await store.measurements(outcome_id),
        "last 3": await store.measurements(outcome_id, last=3),
        "trail": await store.audit_trail(outcome),
        "export": await export(store, "T1", "json"),
        "status": (status.title, status.fields, status.lines),
        "audit": (audit.title, audit.lines),
        "digest": [(c.title, c.lines, c.fields) for c in digest],
    }


async def test_readers_read_the_same_after_the_archive(
    harness: Harness, history: HistoryStore
) -> None:
    outcome_id = await _run_days(harness, 6)
    harness.store.history = history
    harness.clock.advance(timedelta(days=40))
    await harness.runtime.drain()  # what falls due now, before anything is read
    before = await _readings(harness, outcome_id)
    chain_before = await harness.store.redis.llen(harness.store.keys.audit("T1"))

    archiver = Archiver(harness.store, history, harness.clock, SMALL)
    moved = await archiver.run()

    assert moved.steps and moved.measurements and moved.audit and not moved.conflicts
    keys = harness.store.keys
    assert await harness.store.redis.llen(keys.measurements(outcome_id)) == 2
    assert await harness.store.redis.llen(keys.audit("T1")) == chain_before - moved.audit
    after = await _readings(harness, outcome_id)
    for reading, value in before.items():
        assert after[reading] == value, reading
    verdict = await verify(harness.store, "T1")
    assert verdict.intact, verdict.problem
    assert verdict.archived == moved.audit
    assert (await archiver.run()).total == 0  # nothing left to move: nothing moves twice


async def test_the_chain_continues_across_the_move(harness: Harness, history: HistoryStore) -> None:
    outcome_id = await _run_days(harness, 3)
    harness.store.history = history
    harness.clock.advance(timedelta(days=40))
    await harness.runtime.drain()  # what falls due now, before anything is read
    await Archiver(harness.store, history, harness.clock, SMALL).run()
    for _ in range(3):  # the chain grows on after the move
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()

    verdict = await verify(harness.store, "T1")
    outcome = await harness.store.outcome(outcome_id)
    trail = await harness.store.audit_trail(outcome)

    assert verdict.intact, verdict.problem
    assert 0 < verdict.archived < verdict.events
    assert [e.seq for e in trail] == sorted({e.seq for e in trail})
    assert trail[0].action == "outcome.confirmed"
    assert trail[-1].at > harness.clock.now() - timedelta(days=2)


async def test_a_changed_or_lost_archived_event_breaks_the_chain(
    harness: Harness, history: HistoryStore
) -> None:
    await _run_days(harness, 3)
    harness.store.history = history
    harness.clock.advance(timedelta(days=40))
    await harness.runtime.drain()  # what falls due now, before anything is read
    await Archiver(harness.store, history, harness.clock, SMALL).run()
    base = await harness.store.audit_base("T1")
    with history.engine.begin() as conn:
        row = conn.execute(text("SELECT entry FROM baton_history_audit WHERE seq = 2")).one()
        entry = json.loads(row[0])
        body = json.loads(entry["body"])
        entry["body"] = json.dumps({**body, "actor": "mallory"}, separators=(",", ":"))
        conn.execute(
            text("UPDATE baton_history_audit SET entry = :e WHERE seq = 2"),
            {"e": json.dumps(entry)},
        )

    assert (await verify(harness.store, "T1")).problem == "event 2 was changed"

    with history.engine.begin() as conn:
        conn.execute(text("DELETE FROM baton_history_audit WHERE seq >= 2"))
    problem = (await verify(harness.store, "T1")).problem
    assert problem == f"event 2 was removed (next is {base.seq + 1})"


async def test_a_crash_between_the_store_and_redis_redoes_the_batch(
    harness: Harness, history: HistoryStore
) -> None:
    """SQL has the batch, Redis still has it too: the next run moves it once."""
    outcome_id = await _run_days(harness, 4)
    harness.store.history = history
    harness.clock.advance(timedelta(days=40))
    await harness.runtime.drain()  # what falls due now, before anything is read
    before = await _readings(harness, outcome_id)

    class Crashing(HistoryStore):
        async def put(self, batch: object) -> None:
            await super().put(batch)  # type: ignore[arg-type]
            raise SystemExit("killed after the SQL commit")

    crashing = Crashing(history.url)
    try:
        for _ in range(3):
            with contextlib.suppress(SystemExit):
                await Archiver(harness.store, crashing, harness.clock, SMALL).run()
    finally:
        await crashing.close()
    moved = await Archiver(harness.store, history, harness.clock, SMALL).run()

    assert moved.total and not moved.conflicts
    after = await _readings(harness, outcome_id)
    for reading, value in before.items():
        assert after[reading] == value, reading
    counts = await history.counts()
    assert counts["steps"] == len({json.loads(s)["id"] for s in after["steps"]}) - len(  # type: ignore[attr-defined]
        await harness.store.live_steps(outcome_id)
    )
    assert (await verify(harness.store, "T1")).intact
