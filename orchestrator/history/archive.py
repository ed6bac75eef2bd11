"""The archive job: moves what the loop no longer needs from Redis to the history store.

A worker runs it when the clock enqueues it (`orchestrator.clock_service`). Each batch is
written to SQL first (idempotent by record id), then removed from Redis by one script that
first checks Redis still holds exactly what was written (a counter, a chain's base, each
step's status): a worker killed between the two leaves Redis as it was, and the next run
writes the same batch again (nothing changes in SQL) and removes it. Nothing is lost and
nothing is stored twice.

What stays in Redis (`Retention`): every unfinished step, every rejected one (the planner
never proposes a rejected (action, params) again), the last finished step of each play
(its cooldown), steps that finished within `live_days` (verification of effects, daily
caps), the last `live_measurements` measurements (trend and chart), and audit events of the
last `live_days`. A chain's Redis part keeps its link to the moved part: the seq and hash
of the last event moved (`Keys.audit_base`), so the chain verifies end to end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orchestrator.clock import Clock
from orchestrator.errors import ConfigError, NotFound
from orchestrator.history.store import KINDS, Batch, HistoryStore
from orchestrator.jobs import Job
from orchestrator.models import Approval, Measurement, Outcome, Step, StepStatus
from orchestrator.steps import approval_id_for
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.history")

ARCHIVE_JOB = "archive"
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

REMOVE_OUTCOME_LUA = """
if tonumber(redis.call('GET', KEYS[3]) or '0') ~= tonumber(ARGV[1]) then return 0 end
for i = 3, #ARGV, 4 do
  if redis.call('HGET', ARGV[i], 'status') ~= ARGV[i + 2] then return 0 end
end
local trim = tonumber(ARGV[2])
if trim > 0 then
  redis.call('LTRIM', KEYS[2], trim, -1)
  redis.call('INCRBY', KEYS[3], trim)
end
if #ARGV > 2 then
  local gone = {}
  for i = 3, #ARGV, 4 do
    gone[ARGV[i + 1]] = true
    redis.call('DEL', ARGV[i])
    if ARGV[i + 3] ~= '' then redis.call('DEL', ARGV[i + 3]) end
  end
  local kept = {}
  local cursor = tonumber(redis.call('HGET', KEYS[6], 'cursor') or '0')
  local before = 0
  for at, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    if not gone[id] then
      kept[#kept + 1] = id
    elseif at <= cursor then
      before = before + 1
    end
  end
  -- The tick's window starts at the same step as before (`RedisStore.tick_snapshot`).
  if before > 0 then redis.call('HSET', KEYS[6], 'cursor', cursor - before) end
  redis.call('DEL', KEYS[1])
  for at = 1, #kept, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(kept, at, math.min(at + 999, #kept)))
  end
end
local base = tonumber(redis.call('HGET', KEYS[5], 'seq') or '0')
while true do
  local first = redis.call('LINDEX', KEYS[4], 0)
  if not first or tonumber(first) > base then break end
  redis.call('LPOP', KEYS[4])
end
return 1
"""
"""KEYS: the outcome's step list, measurements, their archived count, its audit index, its
chain's base and its tick aggregates. ARGV: the archived count expected, the measurements
to drop, then per step: its record's key, its id, the status written to SQL, and its
approval's key ('')."""

REMOVE_AUDIT_LUA = """
if tonumber(redis.call('HGET', KEYS[2], 'seq') or '0') ~= tonumber(ARGV[1]) then return 0 end
local count = tonumber(ARGV[2])
local last = redis.call('LINDEX', KEYS[1], count - 1)
if not last or cjson.decode(last).seq ~= tonumber(ARGV[3]) then return 0 end
redis.call('LTRIM', KEYS[1], count, -1)
redis.call('HSET', KEYS[2], 'seq', ARGV[3], 'hash', ARGV[4])
return 1
"""
"""KEYS: the chain and its base. ARGV: the base expected, how many events to drop, and the
seq and hash of the last one (the chain's new base)."""


@dataclass(frozen=True)
class Retention:
    """What Redis keeps, and how long the history store keeps each kind."""

    live_days: float = 30.0
    """Finished steps, their approvals and audit events stay in Redis this long."""
    live_measurements: int = 200
    """Measurements Redis keeps per outcome."""
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


def retention(live_days: float, live_measurements: int, keep: str, batch: int) -> Retention:
    """The archive's retention from settings; a `ConfigError` names a bad BATON_HISTORY_KEEP."""
    try:
        keep_days = Retention.parse_keep(keep)
    except ValueError as error:
        raise ConfigError(f"BATON_HISTORY_KEEP: {error}") from None
    return Retention(live_days, live_measurements, keep_days, batch)


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

    async def handle(self, job: Job) -> None:
        await self.run()

    async def run(self) -> Moved:
        """Move everything due, workspace by workspace; then apply retention."""
        moved = Moved()
        cutoff = self.clock.now() - timedelta(days=self.retention.live_days)
        for workspace in await self.store.workspaces():
            while await self.audit_batch(workspace, cutoff, moved):
                pass
            for outcome in await self.store.outcomes(workspace):
                while await self.outcome_batch(outcome, cutoff, moved):
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

    async def audit_batch(self, workspace: str, cutoff: datetime, moved: Moved) -> bool:
        """Move the chain's oldest events older than `cutoff`; True if there may be more."""
        keys = self.store.keys
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.hget(keys.audit_base(workspace), "seq")
            pipe.lrange(keys.audit(workspace), 0, self.retention.batch - 1)
            base, raws = await pipe.execute()
        rows = _old_audit(workspace, raws, cutoff)
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

    async def outcome_batch(self, outcome: Outcome, cutoff: datetime, moved: Moved) -> bool:
        """Move one batch of `outcome`'s records; True if there may be more."""
        keys, batch_size = self.store.keys, self.retention.batch
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.measurements_archived(outcome.id))
            pipe.llen(keys.measurements(outcome.id))
            pipe.lrange(keys.measurements(outcome.id), 0, batch_size - 1)
            archived, length, raws = await pipe.execute()
        done = int(archived or 0)
        trim = max(0, min(int(length) - self.retention.live_measurements, len(raws)))
        batch = Batch(
            measurements=[
                (outcome.id, done + n, Measurement.model_validate_json(raw))
                for n, raw in enumerate(raws[:trim], start=1)
            ]
        )
        leaving = movable(await self.store.live_steps(outcome.id), cutoff)[:batch_size]
        batch.steps = leaving
        batch.approvals = await self._approvals(leaving)
        if not len(batch):
            await self._trim_index(outcome, done)
            return False
        await self.history.put(batch)
        removed = await self._remove_outcome(
            keys=self._outcome_keys(outcome),
            args=[done, trim, *self._step_args(leaving, batch.approvals)],
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
        await self._remove_outcome(keys=self._outcome_keys(outcome), args=[done, 0])

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
        keys, with_approval = self.store.keys, {a.step_id for a in approvals}
        args: list[str] = []
        for step in steps:
            approval = keys.approval(approval_id_for(step.id)) if step.id in with_approval else ""
            args += [keys.step(step.id), step.id, step.status.value, approval]
        return args

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


def movable(steps: Sequence[Step], cutoff: datetime) -> list[Step]:
    """The steps the loop no longer needs (see the module's docstring), oldest first."""
    latest: dict[str, Step] = {}
    for step in steps:
        if step.status in RAN and _ended(step) >= _ended(latest.get(step.play, step)):
            latest[step.play] = step
    needed = {s.depends_on for s in steps if s.status not in FINISHED and s.depends_on}
    keep = {s.id for s in latest.values()} | needed
    return [s for s in steps if s.status in FINISHED and s.id not in keep and _ended(s) < cutoff]


def _ended(step: Step) -> datetime:
    return step.finished_at or step.created_at


def _old_audit(
    workspace: str, raws: Sequence[bytes], cutoff: datetime
) -> list[tuple[str, int, str | None, str, str]]:
    """The leading entries of a chain older than `cutoff`, as the history store keeps them."""
    rows: list[tuple[str, int, str | None, str, str]] = []
    for raw in raws:
        text = raw.decode() if isinstance(raw, bytes) else raw
        entry = json.loads(text)
        body = json.loads(entry["body"])
        at = datetime.fromisoformat(body["at"])
        if at >= cutoff:
            break
        rows.append((workspace, int(entry["seq"]), body.get("outcome_id"), body["at"], text))
    return rows
