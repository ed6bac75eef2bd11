"""The store's contract, run against every Redis it may use: the server in REDIS_URL (when
set), the embedded one, and a local 3-master Redis Cluster (keys with hash tags)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.errors import IllegalTransition, NotFound, TransitionRefused
from orchestrator.models import (
    Outcome,
    OutcomeStatus,
    Step,
    StepStatus,
)
from orchestrator.runtime.messages import Execute, Tick
from orchestrator.runtime.queue import JobQueue
from orchestrator.store import transitions
from orchestrator.store.client import redis_client
from orchestrator.store.commit import Commit
from orchestrator.store.embedded import EmbeddedRedis
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.fakes import a_step, an_outcome

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SERVERS = ["embedded", *(["REDIS_URL"] if os.environ.get("REDIS_URL") else []), "cluster"]


@pytest.fixture(scope="module")
def embedded_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("contract"))
    url = asyncio.run(server.start())
    yield url
    asyncio.run(server.stop())


@pytest.fixture(params=SERVERS)
async def any_store(request: pytest.FixtureRequest, embedded_url: str) -> AsyncIterator[RedisStore]:
    cluster = request.param == "cluster"
    if cluster:
        url = request.getfixturevalue("cluster_url")
    else:
        url = embedded_url if request.param == "embedded" else os.environ["REDIS_URL"]
    client = redis_client(url)
    keys = Keys(f"contract:{uuid.uuid4().hex[:10]}", tagged=cluster)
    yield RedisStore(client, keys)
    async for key in client.scan_iter(match=f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


def oid(store: RedisStore | None = None) -> str:
    """Outcome 1 of T1, as the store names it (with T1's hash tag on a cluster)."""
    return store.keys.new_id("o", 1, "T1") if store else "o1"


def sid(store: RedisStore | None = None) -> str:
    return store.keys.new_id("s", 1, "T1") if store else "s1"


def outcome(store: RedisStore | None = None) -> Outcome:
    return an_outcome(id=oid(store))


def step(status: StepStatus, store: RedisStore | None = None) -> Step:
    return a_step(status).model_copy(update={"id": sid(store), "outcome_id": oid(store)})


async def put(store: RedisStore, before: Outcome | Step | None, after: Outcome | Step) -> None:
    commit = transitions.record(
        Commit(), store.keys, before, after, actor="agent", at=NOW, action="test"
    )
    await store.apply(commit)


async def test_create_read_and_compare_and_set(any_store: RedisStore) -> None:
    first = outcome(any_store)
    await put(any_store, None, first)
    assert await any_store.outcome(oid(any_store)) == first
    paused = first.model_copy(update={"status": OutcomeStatus.PAUSED})
    await put(any_store, first, paused)
    with pytest.raises(TransitionRefused) as refused:
        await put(any_store, first, first.model_copy(update={"status": OutcomeStatus.STOPPED}))
    assert refused.value.actual == "paused"
    assert (await any_store.outcome(oid(any_store))).status is OutcomeStatus.PAUSED


async def test_creating_twice_is_refused(any_store: RedisStore) -> None:
    await put(any_store, None, outcome(any_store))
    with pytest.raises(TransitionRefused):
        await put(any_store, None, outcome(any_store))


async def test_missing_records_raise_not_found(any_store: RedisStore) -> None:
    with pytest.raises(NotFound):
        await any_store.outcome("nope")
    with pytest.raises(NotFound):
        await any_store.approval("a404")


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s, targets in transitions.LEGAL["step"].items() if s for t in targets],
)
async def test_every_legal_step_transition_applies(
    any_store: RedisStore, source: str, target: str
) -> None:
    before = step(StepStatus(source), any_store)
    commit = Commit().write(any_store.keys.step(sid(any_store)), source, before.model_dump_json())
    await any_store.apply(commit)
    await put(any_store, before, before.model_copy(update={"status": StepStatus(target)}))
    assert (await any_store.step(sid(any_store))).status.value == target


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (s.value, t.value)
        for s in StepStatus
        for t in StepStatus
        if t.value not in transitions.LEGAL["step"].get(s.value, frozenset())
    ],
)
def test_every_illegal_step_transition_is_refused(source: str, target: str) -> None:
    with pytest.raises(IllegalTransition):
        transitions.record(
            Commit(),
            Keys(),
            step(StepStatus(source)),
            step(StepStatus(target)),
            actor="agent",
            at=NOW,
            action="test",
        )


async def test_a_refused_commit_changes_nothing(any_store: RedisStore) -> None:
    first = outcome(any_store)
    await put(any_store, None, first)
    commit = transitions.record(
        Commit(),
        any_store.keys,
        first,
        first.model_copy(update={"status": OutcomeStatus.PAUSED}),
        actor="olivia",
        at=NOW,
        action="pause",
    )
    commit.op("SADD", any_store.keys.outcomes_of("T1"), oid(any_store))
    commit.absent(any_store.keys.kill_switch("T1"), "paused for the workspace")
    await any_store.redis.set(any_store.keys.kill_switch("T1"), "oscar")
    with pytest.raises(TransitionRefused) as refused:
        await any_store.apply(commit)
    assert refused.value.reason == "paused for the workspace"
    assert (await any_store.outcome(oid(any_store))).status is OutcomeStatus.ACTIVE
    assert await any_store.outcomes("T1") == []
    assert len(await any_store.audit_chain("T1")) == 1


async def test_budget_check_is_atomic(any_store: RedisStore) -> None:
    key = any_store.keys.outcome(oid(any_store))
    await any_store.redis.hset(key, mapping={"budget": 100, "spent": 60})
    await any_store.apply(Commit().within_budget(key, 40).op("HINCRBYFLOAT", key, "spent", 40))
    with pytest.raises(TransitionRefused) as refused:
        await any_store.apply(Commit().within_budget(key, 0.5))
    assert refused.value.reason == "over budget"
    assert await any_store.spent(oid(any_store)) == 100


async def test_audit_chain_links_every_event(any_store: RedisStore) -> None:
    first = outcome(any_store)
    await put(any_store, None, first)
    await put(any_store, first, first.model_copy(update={"status": OutcomeStatus.PAUSED}))
    chain = await any_store.audit_chain("T1")
    assert [e.seq for e in chain] == [1, 2]
    assert chain[1].prev == chain[0].hash and chain[0].prev == ""
    raw = await any_store.redis.lrange(any_store.keys.audit("T1"), 0, -1)
    import json

    for entry in map(json.loads, raw):
        digest = hashlib.sha1(f"{entry['prev']}\n{entry['seq']}\n{entry['body']}".encode())
        assert digest.hexdigest() == entry["hash"]
    trail = await any_store.audit_trail(first)
    assert [(e.before, e.after) for e in trail] == [(None, "active"), ("active", "paused")]


async def test_timers_are_unique_and_move_when_due(any_store: RedisStore) -> None:
    queue = JobQueue(any_store.redis, any_store.keys)
    await queue.ensure_group()
    await queue.schedule(
        f"tick:{oid(any_store)}",
        NOW + timedelta(hours=1),
        Tick(outcome=oid(any_store)),
        workspace="T1",
    )
    await queue.schedule(
        f"tick:{oid(any_store)}",
        NOW + timedelta(hours=2),
        Tick(outcome=oid(any_store)),
        workspace="T1",
    )
    assert await queue.move_due(NOW + timedelta(minutes=90)) == 0
    assert await queue.move_due(NOW + timedelta(hours=2)) == 1
    jobs = await queue.read("w1")
    assert [(j.kind, j.payload) for j in jobs] == [("tick", {"outcome": oid(any_store)})]
    await queue.ack_all("w1", [jobs[0].entry_id])
    assert await queue.backlog() == 0


async def test_unacknowledged_jobs_are_reclaimed(any_store: RedisStore) -> None:
    queue = JobQueue(any_store.redis, any_store.keys)
    await queue.ensure_group()
    await queue.enqueue(Execute(step=sid(any_store)), workspace="T1")
    assert len(await queue.read("crashed")) == 1
    assert await queue.read("other") == []
    reclaimed = await queue.reclaim("other", min_idle_ms=0)
    assert [j.payload for j in reclaimed] == [{"step": sid(any_store)}]


async def test_dedupe_and_leases(any_store: RedisStore) -> None:
    assert await any_store.first_time("event:1", 60)
    assert not await any_store.first_time("event:1", 60)
    assert await any_store.acquire(f"outcome:{oid(any_store)}", "w1", 10_000)
    assert not await any_store.acquire(f"outcome:{oid(any_store)}", "w2", 10_000)
    await any_store.release(f"outcome:{oid(any_store)}", "w2")  # not w2's lease: still held
    assert not await any_store.acquire(f"outcome:{oid(any_store)}", "w2", 10_000)
    await any_store.release(f"outcome:{oid(any_store)}", "w1")
    assert await any_store.acquire(f"outcome:{oid(any_store)}", "w2", 10_000)


async def test_embedded_store_keeps_state_across_restarts(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "state")
    client = Redis.from_url(await server.start())
    store = RedisStore(client, Keys("restart"))
    await put(store, None, outcome())
    await client.aclose()
    await server.stop()
    again = EmbeddedRedis(tmp_path / "state")
    client = Redis.from_url(await again.start())
    assert (await RedisStore(client, Keys("restart")).outcome("o1")).id == "o1"
    await client.aclose()
    await again.stop()
