"""The audit chain catches a changed, a removed and an inserted event; export writes it all."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic_core import PydanticSerializationError

from orchestrator.models import AuditEvent, StepStatus
from orchestrator.store.audit import entry_hash, export, verify
from orchestrator.store.transitions import audit_body
from tests.conftest import Harness


async def chain_with_events(harness: Harness) -> tuple[str, list[str]]:
    await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    key = harness.store.keys.audit("T1")
    raws = await harness.store.redis.lrange(key, 0, -1)
    return key, [raw.decode() if isinstance(raw, bytes) else raw for raw in raws]


async def test_an_untouched_chain_is_intact(harness: Harness) -> None:
    _, raws = await chain_with_events(harness)
    verdict = await verify(harness.store, "T1")
    assert verdict.intact and verdict.events == len(raws) > 10


async def test_a_changed_event_is_named(harness: Harness) -> None:
    key, raws = await chain_with_events(harness)
    index = next(i for i, raw in enumerate(raws) if '"actor":"agent"' in json.loads(raw)["body"])
    entry = json.loads(raws[index])
    entry["body"] = entry["body"].replace('"actor":"agent"', '"actor":"alice"')
    await harness.store.redis.lset(key, index, json.dumps(entry))
    verdict = await verify(harness.store, "T1")
    assert verdict.problem == f"event {index + 1} was changed"


async def test_a_removed_event_is_named(harness: Harness) -> None:
    key, raws = await chain_with_events(harness)
    await harness.store.redis.lrem(key, 1, raws[6])
    assert (await verify(harness.store, "T1")).problem == "event 7 was removed (next is 8)"


async def test_removing_the_last_event_is_caught(harness: Harness) -> None:
    key, raws = await chain_with_events(harness)
    await harness.store.redis.rpop(key)
    assert f"event {len(raws)} was removed" in (await verify(harness.store, "T1")).problem


async def test_an_inserted_event_is_named(harness: Harness) -> None:
    key, raws = await chain_with_events(harness)
    forged = json.loads(raws[2])
    forged["body"] = forged["body"].replace("step.planned", "step.approved")
    forged["hash"] = entry_hash(forged["prev"], forged["seq"], forged["body"])
    await harness.store.redis.linsert(key, "AFTER", raws[2], json.dumps(forged))
    problem = (await verify(harness.store, "T1")).problem
    assert problem == "event at position 4 (seq 3) was inserted or reordered"


async def test_export_as_csv_and_json(harness: Harness) -> None:
    _, raws = await chain_with_events(harness)
    rows = list(csv.DictReader(io.StringIO(await export(harness.store, "T1", "csv"))))
    assert len(rows) == len(raws)
    assert rows[0]["action"] == "outcome.confirmed" and rows[0]["actor"] == "olivia"
    assert rows[-1]["seq"] == str(len(raws))
    lines = (await export(harness.store, "T1", "json")).splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(raws) + 1))


DETAILS: list[dict[str, Any]] = [
    {"metric": "churn_rate", "value": 8.5},
    {"due": datetime(2027, 1, 4, 9, 0, tzinfo=UTC)},
    {"due": datetime(2027, 1, 4, 9, 0, 0, 123, tzinfo=timezone(timedelta(hours=1)))},
    {"naive": datetime(2027, 1, 4, 9, 0), "day": date(2027, 1, 4)},
    {"status": StepStatus.RUNNING, "steps": ("s1", "s2"), "nested": {"none": None}},
    {"tiny": 1e-7, "huge": 1e21, "sum": 0.1 + 0.2, "whole": 100.0, "zero": -0.0},
    {"text": 'é\u2028<>&"\\', "cost": Decimal("1.50")},
    {"beyond_64_bits": 10**20},
]


@pytest.mark.parametrize("detail", DETAILS)
def test_an_event_body_is_written_as_its_model_writes_it(detail: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "at": datetime(2027, 1, 4, 9, 0, 0, 5, tzinfo=UTC),
        "workspace": "T1",
        "actor": "system",
        "action": "measurement.recorded",
        "subject": "outcome:o1",
        "outcome_id": "o1",
        "before": None,
        "after": "active",
        "detail": detail,
    }
    model = AuditEvent(seq=1, **fields)
    assert audit_body(fields) == model.model_dump_json(exclude={"seq", "prev", "hash"})


def test_an_event_body_nothing_can_write_is_refused() -> None:
    with pytest.raises(PydanticSerializationError):
        audit_body({"at": datetime.now(UTC), "detail": {"what": object()}})
