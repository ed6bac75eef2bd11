"""The soak's consistency check: nothing lost, nothing duplicated, every state valid."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from orchestrator.history.store import HistoryStore, default_url
from orchestrator.models import Approval, ApprovalStatus, Outcome, Step, StepStatus
from orchestrator.store.audit import verify
from orchestrator.store.audit_seal import AuditKeys
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore

TABLES = {"send_winback": "outbox", "offer_discount": "discounts"}
"""Actions that write rows to the demo CRM, keyed by the step id (the idempotency key)."""
SETTLE_S = 600
UNFINISHED = (StepStatus.APPROVED, StepStatus.RUNNING)
WAITING = ("retry:", "defer:", "wait:")
"""Timers of jobs still to run: retried, deferred for their turn, waiting out an outage."""


async def check(
    url: str,
    prefix: str,
    crm: Path,
    announced: Callable[[], list[tuple[str, str]]],
    audit_key: str = "",
    state_dir: Path | None = None,
) -> list[str]:
    """Problems found (empty when consistent), once the workers have settled.

    `announced` tells, when asked (after settling, so replies that waited for Slack's turn
    or for a 429 to pass have arrived), each outcome chat was told is confirmed, with who
    stated it."""
    redis = Redis.from_url(url)
    store = RedisStore(redis, Keys(prefix), AuditKeys.parse(key=audit_key))
    history = HistoryStore(default_url(state_dir)) if state_dir is not None else None
    store.history = history  # records the workers moved out of Redis are read there
    try:
        began = time.monotonic()
        settled = await _settle(store)
        print(f"  settled in {time.monotonic() - began:.0f}s after the traffic stopped")
        outcomes = await store.outcomes("T1")
        steps = [s for o in outcomes for s in await store.steps(o.id)]
        approvals = await _approvals(store)
        problems = [] if settled else [f"workers did not settle within {SETTLE_S}s"]
        problems += _lost(outcomes, announced())
        problems += await _steps(store, outcomes, steps, crm)
        problems += await _decisions(store, outcomes, approvals, steps)
        problems += await _jobs(store)
        verdict = await verify(store, "T1")
        if not verdict.intact:
            problems.append(f"audit chain of T1 broken: {verdict.problem}")
        print(
            f"  checked: {len(outcomes)} outcomes, {len(steps)} steps, {len(approvals)} approvals, "
            f"{verdict.events} audit events; steps by status "
            f"{dict(Counter(s.status.value for s in steps))}"
        )
        return problems
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
        await redis.aclose()
        if history is not None:
            await history.close()


async def _settle(store: RedisStore) -> bool:
    """Wait (bounded) until no job waits, runs or waits to be retried or for its turn, and
    no approved step is left to run."""
    began = time.monotonic()
    end = began + SETTLE_S
    steps_done: float | None = None
    while time.monotonic() < end:
        queue = store.keys
        backlog = int(await store.redis.xlen(queue.jobs()))
        timers = await store.redis.zrange(queue.timers(), 0, -1)
        backlog += sum(1 for t in timers if t.decode().startswith(WAITING))
        outcomes = await store.outcomes("T1")
        open_steps = [
            s for o in outcomes for s in await store.steps(o.id) if s.status in UNFINISHED
        ]
        if not open_steps and steps_done is None:
            steps_done = time.monotonic() - began
            print(f"  no step left to run {steps_done:.0f}s after the traffic stopped")
        if backlog == 0 and not open_steps:
            return True
        await asyncio.sleep(1)
    print(f"  still waiting after {SETTLE_S}s: {await _waiting(store)}")
    return False


async def _waiting(store: RedisStore) -> dict[str, int]:
    """Jobs still queued or waiting for their turn, by kind."""
    kinds: Counter[str] = Counter()
    for _, fields in await store.redis.xrange(store.keys.jobs()):
        kinds[json.loads(fields[b"job"])["kind"]] += 1
    for timer in await store.redis.zrange(store.keys.timers(), 0, -1):
        if timer.decode().startswith(WAITING):
            raw = await store.redis.hget(store.keys.timer_jobs(), timer)
            kinds[json.loads(raw or "{}").get("kind", "?") + " (timer)"] += 1
    return dict(kinds)


async def _approvals(store: RedisStore) -> list[Approval]:
    found = []
    head = store.keys.approval("")
    async for key in store.redis.scan_iter(match=store.keys.approval("*"), count=1000):
        approval_id = key.decode().removeprefix(head)
        if ":" not in approval_id:
            found.append(await store.approval(approval_id))
    return found


def _lost(outcomes: list[Outcome], confirmed: list[tuple[str, str]]) -> list[str]:
    """Every outcome chat said was confirmed exists, owned by who stated it; and every stored
    outcome was announced in chat (a confirmation whose reply was lost shows here)."""
    known = {o.id: o for o in outcomes}
    problems = []
    for outcome_id, owner in confirmed:
        if outcome_id not in known:
            problems.append(f"{outcome_id} was confirmed in chat but is not stored")
        elif known[outcome_id].owner != owner:
            problems.append(f"{outcome_id} is owned by {known[outcome_id].owner}, not {owner}")
    told = {outcome_id for outcome_id, _ in confirmed}
    problems += [f"{o.id} is stored but chat was never told" for o in outcomes if o.id not in told]
    return problems


async def _steps(
    store: RedisStore, outcomes: list[Outcome], steps: list[Step], crm: Path
) -> list[str]:
    """Every step finished or waiting legitimately; CRM rows once per idempotency key."""
    problems = []
    trails = {o.id: await store.audit_trail(o) for o in outcomes}
    with sqlite3.connect(crm) as db:
        for step in steps:
            if step.status in UNFINISHED:
                problems.append(f"step {step.id} left {step.status.value}")
            runs = sum(
                1
                for e in trails[step.outcome_id]
                if e.action == "step.running" and e.subject == f"step:{step.id}"
            )
            if runs > 1:
                problems.append(f"step {step.id} started {runs} times")
            table = TABLES.get(step.action)
            if table is None:
                continue
            rows = db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE idempotency_key = ?", (step.id,)
            ).fetchone()[0]
            expected = step.audience if step.status is StepStatus.SUCCEEDED else None
            if expected is not None and rows != expected:
                problems.append(f"step {step.id}: {rows} CRM rows for an audience of {expected}")
            if (
                step.status is not StepStatus.SUCCEEDED
                and rows
                and step.status is not StepStatus.FAILED
            ):
                problems.append(f"step {step.id} is {step.status.value} but wrote {rows} rows")
    return problems


async def _decisions(
    store: RedisStore, outcomes: list[Outcome], approvals: list[Approval], steps: list[Step]
) -> list[str]:
    """One decision per approval; every approved step ran (or failed, and said so)."""
    by_id = {s.id: s for s in steps}
    decided: Counter[str] = Counter()
    for outcome in outcomes:
        for event in await store.audit_trail(outcome):
            if event.action in ("approval.approved", "approval.rejected", "approval.expired"):
                decided[event.subject] += 1
    problems = [f"{subject} decided {n} times" for subject, n in decided.items() if n > 1]
    print(f"  approvals by status: {dict(Counter(a.status.value for a in approvals))}")
    for approval in approvals:
        step = by_id.get(approval.step_id)
        if step is None:
            problems.append(f"approval {approval.id} has no step")
        elif approval.status is ApprovalStatus.APPROVED and step.status not in (
            StepStatus.SUCCEEDED,
            StepStatus.FAILED,
            StepStatus.CANCELLED,
        ):
            problems.append(f"approved {approval.id}: step {step.id} is {step.status.value}")
        elif approval.status is ApprovalStatus.PENDING and step.status is not (
            StepStatus.AWAITING_APPROVAL
        ):
            problems.append(f"pending {approval.id}: step {step.id} is {step.status.value}")
    return problems


async def _jobs(store: RedisStore) -> list[str]:
    """Every job acknowledged; a dead-lettered one raised an incident (a page job)."""
    redis, keys = store.redis, store.keys
    problems = []
    info = await redis.xinfo_groups(keys.jobs())
    pending = sum(int(group["pending"]) for group in info)
    if pending:
        problems.append(f"{pending} jobs read and never acknowledged")
    dead: Any = await redis.xrange(keys.dead_letters())
    for entry_id, fields in dead:
        job = json.loads(fields[b"job"])
        print(f"  dead letter {entry_id.decode()}: {job.get('kind')} {fields[b'error'][:160]!r}")
    return problems
