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
from orchestrator.store.archive import ArchiveMoves, Leaving
from orchestrator.store.redis_store import EFFECT_PIN_DAYS, RedisStore

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
        self.live = ArchiveMoves(store)
        """What Redis holds of the records due to move, and their checked removal."""

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
        await self.live.ran(self.clock.now().timestamp(), moved.total)
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
        found = await self.live.audit_due(workspace, self.retention.batch)
        due = max(0, min(found.length - self.retention.live_audit, len(found.entries)))
        rows = [_audit_row(workspace, raw) for raw in found.entries[:due]]
        if not rows:
            return False
        await self.history.put(Batch(audit=rows))
        last = json.loads(rows[-1][4])
        done = await self.live.drop_audit(
            workspace,
            base=found.base,
            count=len(rows),
            last_seq=last["seq"],
            last_hash=last["hash"],
        )
        if not done:
            moved.conflicts += 1
            return False
        moved.audit += len(rows)
        return len(rows) == self.retention.batch

    async def outcome_batch(self, outcome: Outcome, moved: Moved) -> bool:
        """Move one batch of `outcome`'s records; True if there may be more."""
        batch_size = self.retention.batch
        ended = outcome.status not in (OutcomeStatus.ACTIVE, OutcomeStatus.PAUSED)
        found = await self.live.outcome_due(outcome.id, batch_size)
        done = found.archived
        trim = max(0, min(found.length - self.retention.live_measurements, len(found.measurements)))
        batch = Batch(
            measurements=[
                (outcome.id, done + n, Measurement.model_validate_json(raw))
                for n, raw in enumerate(found.measurements[:trim], start=1)
            ]
        )
        # Places count in the list as Redis holds it (the tick's cursor is one of them).
        parsed = [Step.model_validate_json(raw) if raw is not None else None for raw in found.steps]
        window = len(parsed) if ended else found.cursor
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
        removed = await self.live.remove(
            outcome,
            archived=done,
            trim=trim,
            ended=ended,
            steps=_leaving(leaving, batch.approvals),
        )
        if not removed:
            moved.conflicts += 1
            return False
        moved.steps += len(batch.steps)
        moved.measurements += trim
        moved.approvals += len(batch.approvals)
        return trim == batch_size or len(leaving) == batch_size

    async def _trim_index(self, outcome: Outcome, done: int) -> None:
        """Drop the outcome's audit index entries the chain's base has passed."""
        await self.live.remove(outcome, archived=done, trim=0, ended=False, steps=())

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


def _leaving(steps: Sequence[Step], approvals: Sequence[Approval]) -> list[Leaving]:
    """The steps to remove, each with its approval's id when one moves with it."""
    with_approval = {a.step_id for a in approvals}
    return [
        Leaving(s.id, s.status.value, approval_id_for(s.id) if s.id in with_approval else None)
        for s in steps
    ]


def _ended(step: Step) -> datetime:
    return step.finished_at or step.created_at


def _audit_row(workspace: str, raw: bytes | str) -> tuple[str, int, str | None, str, str]:
    """An entry of a chain as the history store keeps it."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    entry = json.loads(text)
    body = json.loads(entry["body"])
    return workspace, int(entry["seq"]), body.get("outcome_id"), str(body.get("at", "")), text
