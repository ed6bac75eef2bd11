"""Once per install: the gauges and latency histograms `/metrics` reads, computed from the
records made before the commits kept them (`orchestrator.store.gauges`).

An install that ran a Baton older than these gauges has steps, decided approvals and
off-track episodes they never counted. The backfill reads every record once (Redis and
the history store), then replaces the step gauges and the two latency histograms with
what it found, in one MULTI that applies only if no commit touched them meanwhile (WATCH;
it reads again then). A marker key makes it run once: `running:<owner>` while one
process runs it (others leave it to that one), `done` after. An outcome off track now
gets the start of its episode, so its decision latency counts from then.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from orchestrator.errors import NotFound
from orchestrator.models import ApprovalStatus, Outcome, OutcomeKind, Step, Verdict
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.steps.govern import approval_id_for
from orchestrator.store import gauges
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.metrics")

DONE = "done"
LOCK_MS = 15 * 60 * 1000
"""How long a process's claim to run the backfill holds if it dies midway."""
TRIES = 5


@dataclass
class Found:
    """What the records say the gauges should be."""

    steps: Counter[str] = field(default_factory=Counter)
    approval_s: list[float] = field(default_factory=list)
    decision_s: list[float] = field(default_factory=list)
    open_episodes: dict[str, tuple[float, bool]] = field(default_factory=dict)
    """Outcomes off track now: (since when, epoch seconds; whether a step answered it)."""


@dataclass(frozen=True)
class Backfill:
    """What a call did: `ran` (it computed and wrote), else `state` (done, or running)."""

    ran: bool
    state: str
    found: Found | None = None


def marker_key(store: RedisStore) -> str:
    return store.keys.metrics("backfill")


async def backfill(store: RedisStore, owner: str) -> Backfill:
    """Run the backfill unless it ran (or runs) already; idempotent."""
    redis, marker = store.redis, marker_key(store)
    if not await redis.set(marker, f"running:{owner}", nx=True, px=LOCK_MS):
        state = await redis.get(marker)
        return Backfill(False, _text(state) if state is not None else DONE)
    try:
        found = await _write(store, redis, marker)
    except BaseException:
        if _text(await redis.get(marker) or b"") == f"running:{owner}":
            await redis.delete(marker)  # another try may run it
        raise
    log.info(
        "metrics backfilled: %d steps, %d approval decisions, %d decision latencies",
        sum(found.steps.values()),
        len(found.approval_s),
        len(found.decision_s),
    )
    return Backfill(True, DONE, found)


async def _write(store: RedisStore, redis: Redis, marker: str) -> Found:
    # Work about no workspace has its own slot on a cluster: the marker and these two
    # hashes share it, so the WATCH and the MULTI touch one slot.
    gauged = gauges.gauges_key(store.keys, "")
    histograms = gauges.histograms_key(store.keys, "")
    for _ in range(TRIES):
        async with redis.pipeline(transaction=True) as pipe:
            await pipe.watch(gauged, histograms)
            found = await scan(store)
            stale = [_text(f) for f in await pipe.hkeys(gauged)]
            pipe.multi()  # type: ignore[no-untyped-call]
            steps = [f for f in stale if f.startswith("steps|")]
            if steps:
                pipe.hdel(gauged, *steps)
            if found.steps:
                pipe.hset(gauged, mapping=_fields(found.steps))
            pipe.hset(histograms, mapping=_fields(_histogram_fields(found)))
            pipe.set(marker, DONE)
            try:
                await pipe.execute()
            except WatchError:
                continue  # a commit changed a gauge while we read: read again
        await _open_episodes(store, found)
        return found
    raise RuntimeError(f"the gauges kept changing; {TRIES} tries gave up (run it again)")


def _histogram_fields(found: Found) -> dict[str, float]:
    fields: dict[str, float] = {}
    for name, values in (
        (gauges.APPROVAL_DECISION, found.approval_s),
        (gauges.DECISION_LATENCY, found.decision_s),
    ):
        for bound in gauges.LATENCY_BUCKETS_S:
            fields[f"{name}|{bound:g}"] = sum(1 for v in values if v <= bound)
        fields[f"{name}|+Inf"] = len(values)
        fields[f"{name}|sum"] = float(sum(values))
    return fields


async def _open_episodes(store: RedisStore, found: Found) -> None:
    """Give outcomes off track now the start of their episode (unless a commit did)."""
    for outcome_id, (since, answered) in found.open_episodes.items():
        key = store.keys.outcome(outcome_id)
        await store.redis.hsetnx(key, gauges.OFF_SINCE, since)
        if answered:
            await store.redis.hsetnx(key, gauges.OFF_ANSWERED, 1)


async def scan(store: RedisStore) -> Found:
    """Read every outcome's records (Redis, then the history store) into what the gauges
    count: the one pass over all records `/metrics` no longer makes."""
    found = Found()
    for workspace in await store.workspaces():
        for outcome in await store.outcomes(workspace):
            steps = await store.steps(outcome.id)
            found.steps.update(f"steps|{s.lane.value}|{s.status.value}" for s in steps)
            found.approval_s += await _approval_latencies(store, steps)
            if outcome.kind is not OutcomeKind.STANDING:
                await _decision_latencies(store, outcome, steps, found)
    return found


async def _approval_latencies(store: RedisStore, steps: list[Step]) -> list[float]:
    latencies = []
    for step in steps:
        if not step.decision.startswith("approve"):
            continue
        try:
            approval = await store.approval(approval_id_for(step.id))
        except NotFound:
            continue
        decided = approval.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
        if decided and approval.decided_by is not None and approval.decided_at is not None:
            latencies.append((approval.decided_at - approval.requested_at).total_seconds())
    return latencies


async def _decision_latencies(
    store: RedisStore, outcome: Outcome, steps: list[Step], found: Found
) -> None:
    """One latency per off-track episode: from the measurement that went off track to the
    first step planned after it."""
    created = sorted(s.created_at for s in steps)
    off_since: datetime | None = None
    answered = False
    for measurement in await store.measurements(outcome.id):
        verdict = evaluate(outcome, measurement.value, measurement.at).verdict
        if verdict is Verdict.OFF_TRACK and off_since is None:
            off_since = measurement.at
            answer = next((at for at in created if at >= off_since), None)
            answered = answer is not None
            if answer is not None:
                found.decision_s.append((answer - off_since).total_seconds())
        elif verdict is not Verdict.OFF_TRACK:
            off_since, answered = None, False
    if off_since is not None:
        found.open_episodes[outcome.id] = (off_since.timestamp(), answered)


def _fields(values: Mapping[str, float]) -> dict[Any, Any]:
    return dict(values)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
