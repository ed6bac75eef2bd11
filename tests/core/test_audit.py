"""The audit chain catches a changed, a removed and an inserted event; export writes it all."""

from __future__ import annotations

import csv
import io
import json

from orchestrator.audit import entry_hash, export, verify
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
