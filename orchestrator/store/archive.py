"""The Redis side of the archive job (`orchestrator.history.archive` decides what moves):
reading a batch due to move, and removing it once the history store holds it, by one
script each (`lua/archive_audit.lua`, `lua/archive_outcome.lua`, which declare their
KEYS) that first checks Redis still holds exactly what was read. Every key of one
removal is in the outcome's (or the workspace's) slot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from orchestrator.models import Outcome
from orchestrator.store.redis_store import RedisStore
from orchestrator.store.scripts import script_text

REMOVE_OUTCOME_LUA = script_text("archive_outcome")
REMOVE_AUDIT_LUA = script_text("archive_audit")


@dataclass(frozen=True)
class AuditDue:
    """The oldest entries of a workspace's chain, as Redis holds them."""

    base: int
    """Events moved before (the chain's base seq)."""
    length: int
    """Entries Redis holds."""
    entries: list[bytes]
    """The oldest of them, up to the batch's size."""


@dataclass(frozen=True)
class OutcomeDue:
    """The records of an outcome Redis holds, read in one transaction."""

    archived: int
    """Measurements moved before."""
    length: int
    """Measurements Redis holds."""
    measurements: list[bytes]
    """The oldest of them, up to the batch's size."""
    cursor: int
    """Where the tick's window starts in the step list."""
    steps: list[bytes | None]
    """The step list's records, in its order (None for one gone)."""


@dataclass(frozen=True)
class Leaving:
    """A step to remove, as written to the history store."""

    step_id: str
    status: str
    approval_id: str | None = None
    """Its approval, when one moves with it."""


class ArchiveMoves:
    """Reads and checked removals of what the archive moves out of Redis."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._redis = store.redis
        self._keys = store.keys
        self._remove_outcome = store.redis.register_script(REMOVE_OUTCOME_LUA)
        self._remove_audit = store.redis.register_script(REMOVE_AUDIT_LUA)

    async def audit_due(self, workspace: str, batch: int) -> AuditDue:
        """The chain's base, its length and its oldest `batch` entries."""
        keys = self._keys
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(keys.audit_base(workspace), "seq")
            pipe.llen(keys.audit(workspace))
            pipe.lrange(keys.audit(workspace), 0, batch - 1)
            base, length, raws = await pipe.execute()
        return AuditDue(int(base or 0), int(length), list(raws))

    async def drop_audit(
        self, workspace: str, *, base: int, count: int, last_seq: int, last_hash: str
    ) -> bool:
        """Drop the chain's oldest `count` entries if it still starts at `base` and the
        last of them is `last_seq`, which becomes its base; False if Redis changed."""
        keys = self._keys
        done = await self._remove_audit(
            keys=[keys.audit(workspace), keys.audit_base(workspace)],
            args=[base, count, last_seq, last_hash],
        )
        return bool(int(done))

    async def outcome_due(self, outcome_id: str, batch: int) -> OutcomeDue:
        """The outcome's measurement counts and oldest `batch` measurements, the tick's
        cursor and its step list, in one transaction."""
        keys = self._keys
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.measurements_archived(outcome_id))
            pipe.llen(keys.measurements(outcome_id))
            pipe.lrange(keys.measurements(outcome_id), 0, batch - 1)
            pipe.hget(keys.tick_aggregates(outcome_id), "cursor")
            await self._store.steps_in(pipe, outcome_id)
            archived, length, raws, cursor, steps = await pipe.execute()
        return OutcomeDue(
            archived=int(archived or 0),
            length=int(length),
            measurements=list(raws),
            cursor=int(cursor or 0),
            steps=cast(list[Any], steps),
        )

    async def remove(
        self, outcome: Outcome, *, archived: int, trim: int, ended: bool, steps: Sequence[Leaving]
    ) -> bool:
        """Remove the oldest `trim` measurements and `steps` (with their approvals) if
        Redis still holds what was read (`archived` moved before; each step's status);
        with no steps and no trim, only drop audit index entries the chain's base passed.
        False if Redis changed."""
        keys, args = self._outcome_keys(outcome), [archived, trim, "1" if ended else "0"]
        for step in steps:
            record = self._keys.step(step.step_id)
            if step.approval_id is None:  # its own record again in the approval's place
                keys += [record, record]
            else:
                keys += [record, self._keys.approval(step.approval_id)]
            args += [step.step_id, step.status, "" if step.approval_id is None else "1"]
        return bool(int(await self._remove_outcome(keys=keys, args=args)))

    def _outcome_keys(self, outcome: Outcome) -> list[str]:
        keys = self._keys
        return [
            keys.steps_of(outcome.id),
            keys.measurements(outcome.id),
            keys.measurements_archived(outcome.id),
            keys.audit_index(outcome.id),
            keys.audit_base(outcome.workspace),
            keys.tick_aggregates(outcome.id),
        ]

    async def ran(self, at: float, moved: int) -> None:
        """Record the archive's run: when it ended and what it moved (`/metrics`)."""
        await self._redis.hset(self._keys.archive(), mapping={"at": at, "moved": moved})
