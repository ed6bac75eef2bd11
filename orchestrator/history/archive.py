"""The archive job: moves what the loop no longer needs from Redis to the history store.

A worker runs it when the clock enqueues it (`orchestrator.runtime.scheduler`). Each batch is
written to SQL first (idempotent by record id), then removed from Redis by one script that
first checks Redis still holds exactly what was written (a counter, a chain's base, each
step's status and place): a worker killed between the two leaves Redis as it was, and the
next run writes the same batch again (nothing changes in SQL) and removes it. Nothing is
lost and nothing is stored twice.

What stays in Redis (`Retention`) is what the loop reads (`RedisStore.tick_snapshot`): the
steps in a tick's window, every unfinished step, every rejected one (the planner never
proposes a rejected (action, params) again) and each play's last run (its cooldown); the
last `live_measurements` measurements; and the last `live_audit` events of each chain,
whose Redis part keeps its link to the moved part (the seq and hash of the last event
moved, `Keys.audit_base`), so the chain verifies end to end. Once an outcome has ended,
all its finished steps go.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from orchestrator.errors import ConfigError, NotFound
from orchestrator.history.store import KINDS, Batch, HistoryStore
from orchestrator.learning.verify import awaits_effect
from orchestrator.models import Approval, Measurement, Outcome, OutcomeStatus, Step, StepStatus
from orchestrator.runtime.clock import Clock
from orchestrator.runtime.messages import ArchiveBatch
from orchestrator.runtime.queue import Delivery
from orchestrator.steps.govern import approval_id_for
from orchestrator.store.redis_store import EFFECT_PIN_DAYS, RedisStore
from orchestrator.store.scripts import script_text

log = logging.getLogger("baton.history")

FINISHED = frozenset(
    {
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.EXPIRED,
        StepStatus.FORBIDDEN,
        StepStatus.CANCELLED,
    }
)
"""Step statuses that never change again and that the planner does not need for good."""
RAN = (StepStatus.SUCCEEDED, StepStatus.FAILED)

REMOVE_OUTCOME_LUA = script_text("archive_outcome")
REMOVE_AUDIT_LUA = script_text("archive_audit")


@dataclass(frozen=True)
class Retention:
    """What Redis keeps, and how long the history store keeps each kind."""

    live_audit: int = 1_000
    """Audit events Redis keeps per chain (the newest)."""
    live_measurements: int = 12
    """Measurements Redis keeps per outcome (the newest)."""
    keep_days: dict[str, float] = field(default_factory=dict)
    """Per kind (`steps`, `measurements`, `approvals`): days the history store keeps
    records; a kind not listed is kept for good. The audit trail is always kept."""
    batch: int = 500
    """Records per batch (one SQL transaction, one Redis script)."""

    @classmethod
    def parse_keep(cls, text: str) -> dict[str, float]:
        """`steps=365,measurements=90` (days per kind); a `ValueError` says what is wrong."""
        kept: dict[str, float] = {}
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            kind, _, days = item.partition("=")
            if kind.strip() not in KINDS:
                raise ValueError(f"{kind.strip()!r} is not one of {', '.join(KINDS)}")
            try:
                kept[kind.strip()] = float(days)
            except ValueError:
                raise ValueError(f"{item!r}: the days are not a number") from None
            if kept[kind.strip()] <= 0:
                raise ValueError(f"{item!r}: the days must be more than 0")
        return kept


def retention(live_audit: int, live_measurements: int, keep: str, batch: int) -> Retention:
    """The archive's retention from settings; a `ConfigError` names a bad BATON_HISTORY_KEEP."""
    try:
        keep_days = Retention.parse_keep(keep)
    except ValueError as error:
        raise ConfigError(f"BATON_HISTORY_KEEP: {error}") from None
    return Retention(live_audit, live_measurements, keep_days, batch)


@dataclass
class Moved:
    """What one run moved (and pruned)."""

    steps: int = 0
    measurements: int = 0
    approvals: int = 0
    audit: int = 0
    pruned: int = 0
    conflicts: int = 0
    """Batches Redis had changed under (left for the next run)."""

    @property
    def total(self) -> int:
        return self.steps + self.measurements + self.approvals + self.audit


class Archiver:
    """Moves finished records out of Redis, in batches, exactly once."""

    def __init__(
        self, store: RedisStore, history: HistoryStore, clock: Clock, retention: Retention
    ) -> None:
        self.store = store
        self.history = history
        self.clock = clock
        self.retention = retention
        self._remove_outcome = store.redis.register_script(REMOVE_OUTCOME_LUA)
        self._remove_audit = store.redis.register_script(REMOVE_AUDIT_LUA)

    async def handle(self, job: ArchiveBatch, work: Delivery) -> None:
        """The `ArchiveBatch` job."""
        await self.run()

    async def run(self) -> Moved:
        """Move everything due, workspace by workspace; then apply retention."""
        moved = Moved()
        for workspace in await self.store.workspaces():
            while await self.audit_batch(workspace, moved):
                pass
            for outcome in await self.store.outcomes(workspace):
                while await self.outcome_batch(outcome, moved):
                    pass
        for kind, days in self.retention.keep_days.items():
            moved.pruned += await self.history.prune(kind, self.clock.now() - timedelta(days=days))
        await self.store.redis.hset(
            self.store.keys.archive(),
            mapping={"at": self.clock.now().timestamp(), "moved": moved.total},
        )
        if moved.total or moved.pruned:
            log.info(
                "archived %d steps, %d measurements, %d approvals, %d audit events; pruned %d",
                moved.steps,
                moved.measurements,
                moved.approvals,
                moved.audit,
                moved.pruned,
            )
        return moved

    async def audit_batch(self, workspace: str, moved: Moved) -> bool:
        """Move the chain's oldest events beyond the newest `live_audit`; True if there may
        be more."""
        keys = self.store.keys
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hget(keys.audit_base(workspace), "seq")
            pipe.llen(keys.audit(workspace))
            pipe.lrange(keys.audit(workspace), 0, self.retention.batch - 1)
            base, length, raws = await pipe.execute()
        due = max(0, min(int(length) - self.retention.live_audit, len(raws)))
        rows = [_audit_row(workspace, raw) for raw in raws[:due]]
        if not rows:
            return False
        await self.history.put(Batch(audit=rows))
        last = json.loads(rows[-1][4])
        done = await self._remove_audit(
            keys=[keys.audit(workspace), keys.audit_base(workspace)],
            args=[int(base or 0), len(rows), last["seq"], last["hash"]],
        )
        if not int(done):
            moved.conflicts += 1
            return False
        moved.audit += len(rows)
        return len(rows) == self.retention.batch

    async def outcome_batch(self, outcome: Outcome, moved: Moved) -> bool:
        """Move one batch of `outcome`'s records; True if there may be more."""
        keys, batch_size = self.store.keys, self.retention.batch
        ended = outcome.status not in (OutcomeStatus.ACTIVE, OutcomeStatus.PAUSED)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.measurements_archived(outcome.id))
            pipe.llen(keys.measurements(outcome.id))
            pipe.lrange(keys.measurements(outcome.id), 0, batch_size - 1)
            pipe.hgetall(keys.tick_aggregates(outcome.id))
            await self.store.steps_in(pipe, outcome.id)
            archived, length, raws, aggregates, steps = await pipe.execute()
        done = int(archived or 0)
        trim = max(0, min(int(length) - self.retention.live_measurements, len(raws)))
        batch = Batch(
            measurements=[
                (outcome.id, done + n, Measurement.model_validate_json(raw))
                for n, raw in enumerate(raws[:trim], start=1)
            ]
        )
        # Places count in the list as Redis holds it (the tick's cursor is one of them).
        parsed = [Step.model_validate_json(raw) if raw is not None else None for raw in steps]
        window = len(parsed) if ended else int(aggregates.get(b"cursor", 0))
        live = [step for step in parsed if step is not None]
        before = [step for step in parsed[:window] if step is not None]
        since = self.clock.now().date() - timedelta(days=EFFECT_PIN_DAYS)
        leaving = movable(before, live, since)[:batch_size]
        batch.steps = leaving
        batch.approvals = await self._approvals(leaving)
        if not len(batch):
            await self._trim_index(outcome, done)
            return False
        await self.history.put(batch)
        removed = await self._remove_outcome(
            keys=self._outcome_keys(outcome) + self._step_keys(leaving, batch.approvals),
            args=[done, trim, "1" if ended else "0", *self._step_args(leaving, batch.approvals)],
        )
        if not int(removed):
            moved.conflicts += 1
            return False
        moved.steps += len(batch.steps)
        moved.measurements += trim
        moved.approvals += len(batch.approvals)
        return trim == batch_size or len(leaving) == batch_size

    async def _trim_index(self, outcome: Outcome, done: int) -> None:
        """Drop the outcome's audit index entries the chain's base has passed."""
        await self._remove_outcome(keys=self._outcome_keys(outcome), args=[done, 0, "0"])

    def _outcome_keys(self, outcome: Outcome) -> list[str]:
        keys = self.store.keys
        return [
            keys.steps_of(outcome.id),
            keys.measurements(outcome.id),
            keys.measurements_archived(outcome.id),
            keys.audit_index(outcome.id),
            keys.audit_base(outcome.workspace),
            keys.tick_aggregates(outcome.id),
        ]

    def _step_args(self, steps: Sequence[Step], approvals: Sequence[Approval]) -> list[str]:
        with_approval = {a.step_id for a in approvals}
        args: list[str] = []
        for step in steps:
            args += [step.id, step.status.value, "1" if step.id in with_approval else ""]
        return args

    def _step_keys(self, steps: Sequence[Step], approvals: Sequence[Approval]) -> list[str]:
        """Per step, its record's key and its approval's (its own again without one)."""
        keys, with_approval = self.store.keys, {a.step_id for a in approvals}
        found: list[str] = []
        for step in steps:
            has = step.id in with_approval
            found += [
                keys.step(step.id),
                keys.approval(approval_id_for(step.id)) if has else keys.step(step.id),
            ]
        return found

    async def _approvals(self, steps: Sequence[Step]) -> list[Approval]:
        found: list[Approval] = []
        for step in steps:
            if not step.decision.startswith("approve"):
                continue
            try:
                found.append(await self.store.approval(approval_id_for(step.id)))
            except NotFound:
                continue
        return found


def movable(
    before_window: Sequence[Step], steps: Sequence[Step], effects_since: date | None = None
) -> list[Step]:
    """Of the steps a tick no longer reads in full (`before_window`), those the loop does
    not need (see the module's docstring), oldest first; `steps`: all of them. A step whose
    control group's effect is still to be read (finished since `effects_since`) stays."""
    latest: dict[str, Step] = {}
    for step in steps:
        if step.status in RAN and _ended(step) >= _ended(latest.get(step.play, step)):
            latest[step.play] = step
    needed = {s.depends_on for s in steps if s.status not in FINISHED and s.depends_on}
    keep = {s.id for s in latest.values()} | needed
    if effects_since is not None:
        keep |= {s.id for s in steps if awaits_effect(s, effects_since)}
    return [s for s in before_window if s.status in FINISHED and s.id not in keep]


def _ended(step: Step) -> datetime:
    return step.finished_at or step.created_at


def _audit_row(workspace: str, raw: bytes | str) -> tuple[str, int, str | None, str, str]:
    """An entry of a chain as the history store keeps it."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    entry = json.loads(text)
    body = json.loads(entry["body"])
    return workspace, int(entry["seq"]), body.get("outcome_id"), str(body.get("at", "")), text
