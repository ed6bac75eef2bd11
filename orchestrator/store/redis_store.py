"""RedisStore: records, indexes, measurements, audit and small coordination primitives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar, cast

from pydantic import BaseModel
from redis.asyncio import Redis

from orchestrator.errors import NotFound, TakenOver, TransitionRefused, Unavailable
from orchestrator.models import (
    Approval,
    AuditEvent,
    Case,
    Measurement,
    MessageRef,
    Outcome,
    Step,
)
from orchestrator.runtime.queue import Delivery, JobQueue, fence_in
from orchestrator.store.audit_seal import AuditKeys, Head, Seal, rotation_request, unknown_key
from orchestrator.store.call_log import CallRecords
from orchestrator.store.cases import CaseIndex
from orchestrator.store.commit import COMMIT_LUA, OTHER_KEY, Commit
from orchestrator.store.counters import Counters
from orchestrator.store.flags import Flags
from orchestrator.store.keys import NO_WORKSPACE, Keys, number_of_id, tag_of_key
from orchestrator.store.names import NameCache
from orchestrator.store.outages import OutageQueues
from orchestrator.store.scripts import script_text
from orchestrator.store.tags import AnyRedis, register_tag, tags_in_use
from orchestrator.store.tokens import TokenCounts

M = TypeVar("M", bound=BaseModel)

TICK_SNAPSHOT_LUA = script_text("tick_snapshot")
"""KEYS: the outcome, its lease, its step list, its tick aggregates and its pinned steps.
ARGV: the lease's owner and TTL (ms), a step record's key around its id (ARGV[3], ARGV[8]),
the kill switch's key around the workspace id, the window's size and today's date.

A tick reads the last `TICK_WINDOW` steps, not the whole history: what the loop needs from
older ones is kept as they leave the window (the aggregates): unfinished and rejected steps
stay pinned (the planner never proposes a rejected (action, params) again), each play's
last run stays (its cooldown), and today's count of the others (the daily cap)."""

EFFECT_PIN_DAYS = 90
"""How long a step with a control group stays where every tick reads it (pinned), until its
effect is read: longer than any effect window a workspace sets in practice, and bounded, so
that steps whose effect can never be read (no per-entity query) do not stay for ever."""

TICK_WINDOW = 4
"""The latest steps a tick reads in full (the effects it verifies are theirs). Each is
about 1 KB in Redis (its output included): the window is most of an outcome's memory."""

SEAL_ATTEMPTS = 3
"""A commit is sealed again when a chain turns out to have another key (once per key)."""

ID_BLOCK = 20
"""Ids a process reserves at once (`next_ids`)."""

Skipped = Literal["missing", "standing", "leased"]
"""Why a tick snapshot was not taken: no such outcome, a standing outcome, or another
worker holds the lease."""


class Archive(Protocol):
    """Where records moved out of Redis are read (`orchestrator.history.store`)."""

    async def steps(self, outcome_id: str) -> list[Step]: ...

    async def measurements(
        self, outcome_id: str, upto: int, last: int = 0
    ) -> list[Measurement]: ...

    async def approval(self, approval_id: str) -> Approval | None: ...

    async def audit(
        self, workspace: str, upto: int, outcome_id: str | None = None
    ) -> list[str]: ...


class RedisStore:
    """All of Baton's state, in one Redis database, under `keys.prefix`."""

    def __init__(self, redis: AnyRedis, keys: Keys, audit_keys: AuditKeys | None = None) -> None:
        self.redis: Redis = cast(Redis, redis)  # a cluster client answers the same calls
        self.keys = keys
        self.seal = Seal(audit_keys or AuditKeys(), keys.workspace_of_audit)
        """Seals audit events with the current key (without one, the script hashes them)."""
        self._commit = redis.register_script(COMMIT_LUA)
        self._tick_snapshot = redis.register_script(TICK_SNAPSHOT_LUA)
        self._steps = redis.register_script(script_text("steps"))
        self._release = redis.register_script(script_text("release"))
        self._id_blocks: dict[str, list[int]] = {}
        """Per id kind: the next reserved id and the last one."""
        self.history: Archive | None = None
        """The history store, where readers find what was moved out of Redis."""
        self.flags = Flags(self.redis)
        """Marks that something happened (once-only flags, pages sent, runs of failures)."""
        self.counters = Counters(self.redis, keys)
        """The operational counters (`/metrics`)."""
        self.cases = CaseIndex(self.redis, keys)
        """The standing outcomes' case indexes and the case sources' cursors."""
        self.outages = OutageQueues(self.redis, keys)
        """The chat channels' queues while their platform fails."""
        self.names = NameCache(self.redis, keys)
        """People's names as the chat platforms gave them."""
        self.tokens = TokenCounts(self.redis, keys)
        """Model tokens spent, per workspace and day and per outcome."""

    def call_records(self, delivery: str) -> CallRecords:
        """What the calls of the delivery named `delivery` got back."""
        return CallRecords(self.redis, self.keys, delivery)

    def job_queue(self) -> JobQueue:
        """A queue of jobs and timers on this store's database."""
        return JobQueue(self.redis, self.keys)

    async def apply(self, commit: Commit, *, fenced_by: Delivery | None = None) -> None:
        """Apply `commit` atomically or raise `TransitionRefused` naming the failed check.

        `fenced_by`, the job the commit is made for: the commit applies only while that job
        is still this worker's (`fence_in`), otherwise `TakenOver`; None outside a job (a
        request answered on the spot, a tool).
        """
        fence_in(commit, self.keys, fenced_by)
        ok, index, actual = await self._sealed_commit(commit)
        if int(ok) == 1:
            commit.applied = True
            return
        check = commit.checks[int(index) - 1]
        if "held" in check.spec:
            raise TakenOver(str(check.spec["entry"]))
        actual_text = actual.decode() if isinstance(actual, bytes) else str(actual)
        raise TransitionRefused(check.key, check.expected, actual_text, check.reason)

    async def _sealed_commit(self, commit: Commit) -> list[Any]:
        """The script's answer to `commit`, its audit events sealed with the current key;
        sealed again (with a rotation first) if a chain turns out to have another key."""
        if self.seal.keyed:
            for chain in self.seal.unknown(commit.events):  # once per chain and process
                self.seal.saw(chain, await self.audit_head(chain))
        for _ in range(SEAL_ATTEMPTS):
            sealed = self.seal.seal(commit.events) if self.seal.keyed and commit.events else None
            names, spec = commit.script(self.keys, sealed)
            await self._in_use(names)
            reply: list[Any] = await self._commit(keys=names, args=[spec])
            if int(reply[0]) != OTHER_KEY:
                if sealed is not None and int(reply[0]) == 1:
                    self.seal.learn(_text(reply[2]))
                return reply
            chain, (_, kid) = _text(reply[1]), _text(reply[2]).split("\n")
            if self.seal.keys.secret(kid) is None and kid:
                raise Unavailable("audit chain", unknown_key(self.seal.workspace(chain), kid))
            self.seal.moved(chain, kid)
        raise Unavailable("audit chain", "its key kept changing")

    async def _in_use(self, names: list[str]) -> None:
        """On a cluster, register the tag a commit writes in (once per process), so the
        jobs and timers it adds there are read and moved."""
        if self.keys.tagged and names:
            tag = tag_of_key(names[0])
            if tag and tag != NO_WORKSPACE:
                await register_tag(self.redis, self.keys, tag)

    async def _load(self, model: type[M], key: str, kind: str, record_id: str) -> M:
        raw = await self.redis.hget(key, "data")
        if raw is None:
            raise NotFound(kind, record_id)
        return model.model_validate_json(raw)

    async def _load_many(self, model: type[M], keys: Sequence[str]) -> list[M]:
        if not keys:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "data")
        raws = await pipe.execute()
        return [model.model_validate_json(raw) for raw in raws if raw is not None]

    async def outcome(self, outcome_id: str) -> Outcome:
        return await self._load(Outcome, self.keys.outcome(outcome_id), "outcome", outcome_id)

    async def step(self, step_id: str) -> Step:
        return await self._load(Step, self.keys.step(step_id), "step", step_id)

    async def case(self, case_id: str) -> Case:
        return await self._load(Case, self.keys.case(case_id), "case", case_id)

    async def approval(self, approval_id: str) -> Approval:
        try:
            return await self._load(
                Approval, self.keys.approval(approval_id), "approval", approval_id
            )
        except NotFound:
            archived = await self.history.approval(approval_id) if self.history else None
            if archived is None:
                raise
            return archived

    async def outcomes(self, workspace: str) -> list[Outcome]:
        ids = sorted(_text(m) for m in await self.redis.smembers(self.keys.outcomes_of(workspace)))
        found = await self._load_many(Outcome, [self.keys.outcome(i) for i in ids])
        return sorted(found, key=lambda o: o.started_at)

    async def workspaces(self) -> list[str]:
        """The workspaces with outcomes: one set per tag on a cluster."""
        tags = await tags_in_use(self.redis, self.keys)
        pipe = self.redis.pipeline(transaction=False)
        for tag in tags:
            pipe.smembers(self.keys.workspaces(tag))
        found = await pipe.execute()
        return sorted({_text(m) for members in found for m in members})

    async def steps(self, outcome_id: str) -> list[Step]:
        """An outcome's steps in planning order: those moved to the history store, then
        those still in Redis (read first: a step leaves Redis only once stored there)."""
        live = await self.live_steps(outcome_id)
        if self.history is None:
            return live
        here = {s.id for s in live}
        archived = [s for s in await self.history.steps(outcome_id) if s.id not in here]
        if not archived:
            return live
        # Redis keeps some old steps (a play's last run, rejections): back in planning order.
        return sorted(archived + live, key=_planning_order)

    async def live_steps(self, outcome_id: str) -> list[Step]:
        """The steps Redis still holds (all the loop needs), in one round trip."""
        raws: Any = await self._steps(
            keys=[self.keys.steps_of(outcome_id)], args=[self.keys.step_prefix(outcome_id)]
        )
        return _steps(raws)

    async def steps_in(self, pipe: Any, outcome_id: str) -> None:
        """Queue in `pipe` the read of the steps Redis holds, as `live_steps` answers.

        A cluster client does not load a script a pipeline runs: it is loaded on every
        primary first (a node that lost it since fails the pipeline, which runs again)."""
        if self.keys.tagged:
            await self.redis.script_load(self._steps.script)
        await self._steps(
            keys=[self.keys.steps_of(outcome_id)],
            args=[self.keys.step_prefix(outcome_id)],
            client=pipe,
        )

    async def tick_snapshot(
        self, outcome_id: str, owner: str, lease_ms: int, today: date | None = None
    ) -> TickSnapshot | Skipped:
        """Take the outcome's lease and read what a tick needs, in one round trip.

        One script reads the outcome, takes the lease and reads the rest after it, so the
        reads see the state this worker may now change. The lease is not taken for a
        missing outcome or a standing one (whose ticks take their own). The steps are those
        a tick needs (see `TICK_SNAPSHOT_LUA`), however long the outcome's history.
        """
        day = today or datetime.now(UTC).date()
        reply: Any = await self._tick_snapshot(
            keys=[
                self.keys.outcome(outcome_id),
                self.keys.lease(f"outcome:{outcome_id}"),
                self.keys.steps_of(outcome_id),
                self.keys.tick_aggregates(outcome_id),
                self.keys.pinned_steps(outcome_id),
            ],
            args=[
                owner,
                lease_ms,
                self.keys.step_prefix(outcome_id),
                *self.keys.kill_switch_parts(outcome_id),
                TICK_WINDOW,
                day.isoformat(),
                "",
                (day - timedelta(days=EFFECT_PIN_DAYS)).isoformat(),
            ],
        )
        status = _text(reply[0])
        if status != "ok":
            return cast(Skipped, status)
        _, data, failures, spent, paused, raws, extra, counted, off_since, answered = reply
        return TickSnapshot(
            outcome=Outcome.model_validate_json(data),
            measure_failures=int(failures or 0),
            spent=float(spent or 0),
            paused_all=bool(paused),
            history=sorted(_steps(extra), key=_planning_order) + _steps(raws),
            earlier_today=int(counted),
            off_since=float(off_since) if off_since else None,
            off_answered=bool(answered),
        )

    async def step_and_outcome(self, step_id: str, outcome_id: str) -> tuple[Step, Outcome]:
        """A step and its outcome, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self.keys.step(step_id), "data")
        pipe.hget(self.keys.outcome(outcome_id), "data")
        step, outcome = await pipe.execute()
        if step is None:
            raise NotFound("step", step_id)
        if outcome is None:
            raise NotFound("outcome", outcome_id)
        return Step.model_validate_json(step), Outcome.model_validate_json(outcome)

    async def latest_and_steps(self, outcome_id: str) -> tuple[float | None, list[Step]]:
        """An outcome's latest measured value (None before any) and its steps in planning
        order, in one round trip."""
        if self.keys.tagged:  # a cluster client does not load a script inside a pipeline
            latest, raws = await asyncio.gather(
                self.redis.lindex(self.keys.measurements(outcome_id), -1),
                self.live_steps(outcome_id),
            )
            value = Measurement.model_validate_json(latest).value if latest is not None else None
            return value, raws
        pipe = self.redis.pipeline(transaction=False)
        pipe.lindex(self.keys.measurements(outcome_id), -1)
        await self.steps_in(pipe, outcome_id)
        latest, raws = await pipe.execute()
        value = Measurement.model_validate_json(latest).value if latest is not None else None
        return value, _steps(raws)

    async def pending_approvals(self, workspace: str) -> list[Approval]:
        ids = await self.pending_approval_ids(workspace)
        return await self._load_many(Approval, [self.keys.approval(i) for i in ids])

    async def pending_approval_ids(self, workspace: str) -> list[str]:
        """The ids of `workspace`'s pending approvals, sorted."""
        return sorted(
            _text(m) for m in await self.redis.smembers(self.keys.pending_approvals(workspace))
        )

    async def approval_version(self, approval_id: str) -> str:
        """The version of an approval ("" before its first write; `approvals.ballot`)."""
        raw = await self.redis.hget(self.keys.approval_version(approval_id), "status")
        return _text(raw) if raw is not None else ""

    async def learned_rules(self, workspace: str) -> list[str]:
        """`workspace`'s learned rules (JSON, one per rule; `steps.rules`)."""
        return [_text(raw) for raw in await self.redis.hvals(self.keys.learned_rules(workspace))]

    async def has_learned_rule(self, workspace: str, name: str) -> bool:
        """Whether `workspace` learned a rule named `name`."""
        return bool(await self.redis.hexists(self.keys.learned_rules(workspace), name))

    async def count_message(self, workspace: str, user: str, window: int, *, ttl_s: int) -> int:
        """Count one message of `user` in rate-limit `window`; the window's count so far.
        The count and its expiry (`ttl_s`) are one transaction."""
        key = self.keys.rate(workspace, user, window)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, ttl_s)
        return int((await pipe.execute())[0])

    async def absences(self, workspace: str) -> list[str]:
        """The absences recorded in `workspace` (JSON, one per person; `people.delegation`)."""
        return [_text(raw) for raw in await self.redis.hvals(self.keys.absences(workspace))]

    async def measurements(self, outcome_id: str, last: int = 0) -> list[Measurement]:
        """An outcome's measurements, oldest first (the `last` ones only, if set), from the
        history store for those Redis no longer holds."""
        start = -last if last else 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(self.keys.measurements(outcome_id), start, -1)
            pipe.get(self.keys.measurements_archived(outcome_id))
            raws, archived = await pipe.execute()
        live = [Measurement.model_validate_json(raw) for raw in raws]
        moved = int(archived or 0)
        if self.history is None or not moved or (last and len(live) >= last):
            return live
        older = await self.history.measurements(outcome_id, moved, last - len(live) if last else 0)
        return older + live

    async def spent(self, outcome_id: str) -> float:
        return float(await self.redis.hget(self.keys.outcome(outcome_id), "spent") or 0)

    async def next_ids(self, kind: str, count: int, workspace: str) -> list[str]:
        """`count` fresh ids of records of `workspace`, from a block this process reserves
        `ID_BLOCK` at a time, so most plans need no round trip for their ids. Ids stay
        unique; with several processes they interleave, and a process that stops leaves its
        unused ones. On a cluster each carries the workspace's tag (`Keys.new_id`)."""
        await self._register(workspace)
        ids: list[int] = []
        while len(ids) < count:
            block = self._id_blocks.get(kind)
            if block is None or block[0] > block[1]:
                size = max(ID_BLOCK, count - len(ids))
                last = int(await self.redis.incrby(self.keys.sequence(kind), size))
                block = self._id_blocks[kind] = [last - size + 1, last]
            ids.append(block[0])
            block[0] += 1
        return [self.keys.new_id(kind, n, workspace) for n in ids]

    async def next_id(self, kind: str, workspace: str) -> str:
        await self._register(workspace)
        number = int(await self.redis.incr(self.keys.sequence(kind)))
        return self.keys.new_id(kind, number, workspace)

    async def _register(self, workspace: str) -> None:
        """Add the workspace's tag to the tags in use, once per process."""
        await register_tag(self.redis, self.keys, self.keys.tag(workspace))

    async def kill_switch(self, workspace: str) -> bool:
        return bool(await self.redis.exists(self.keys.kill_switch(workspace)))

    async def message_ref(self, key: str, name: str) -> MessageRef | None:
        raw = await self.redis.hget(key, name)
        return MessageRef.model_validate_json(raw) if raw else None

    async def save_message_ref(self, key: str, name: str, ref: MessageRef) -> None:
        await self.redis.hset(key, name, ref.model_dump_json())

    async def audit_chain(self, workspace: str) -> list[AuditEvent]:
        raws = await self.redis.lrange(self.keys.audit(workspace), 0, -1)
        return [parse_audit_entry(raw) for raw in raws]

    async def audit_entries(self, workspace: str) -> list[bytes]:
        """A workspace's chain as stored: each entry's JSON, oldest first, the part moved
        to the history store first."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.keys.audit_base(workspace), "seq")
            pipe.lrange(self.keys.audit(workspace), 0, -1)
            base, live = await pipe.execute()
        moved = int(base or 0)
        if not moved:
            return cast(list[bytes], live)
        if self.history is None:
            raise Unavailable("history store", f"{workspace}'s audit events 1-{moved} are there")
        archived = [entry.encode() for entry in await self.history.audit(workspace, moved)]
        return archived + cast(list[bytes], live)

    async def audit_base(self, workspace: str) -> Head:
        """The last event moved to the history store (seq 0 while none was)."""
        seq, hash_ = await self.redis.hmget(self.keys.audit_base(workspace), ["seq", "hash"])
        return Head(int(seq or 0), _text(hash_ or b""), "")

    async def audit_head(self, chain: str) -> Head:
        """The head a chain records (its last seq, hash and key), as writers left it."""
        seq, hash_, kid = await self.redis.hmget(chain + ":head", ["seq", "hash", "kid"])
        return Head(int(seq or 0), _text(hash_ or b""), _text(kid or b""))

    async def rotate_audit_key(self, workspace: str, at: str) -> bool:
        """Move a workspace's chain to the current key now (at ISO time `at`) with an
        `audit.key_rotated` event, rather than with its next event; False when the chain
        is empty or already sealed with the current key."""
        chain = self.keys.audit(workspace)
        head = await self.audit_head(chain)
        if not self.seal.keyed or not head.seq or head.kid == self.seal.keys.current:
            return False
        self.seal.saw(chain, head)
        self.seal.moved(chain, head.kid)
        commit = Commit()
        commit.events.append(
            {"chain": chain, "index": "", "body": rotation_request(workspace, at), "rotate": "1"}
        )
        await self.apply(commit)
        return True

    async def audit_trail(self, outcome: Outcome) -> list[AuditEvent]:
        """An outcome's audit events, oldest first, wherever they are."""
        for _ in range(SEAL_ATTEMPTS):
            moved, live = await self._live_trail(outcome)
            if live is not None:
                break
        else:
            raise Unavailable("audit trail", "its events kept moving to the history store")
        archived: list[AuditEvent] = []
        if moved and self.history is not None:
            raws = await self.history.audit(outcome.workspace, moved, outcome.id)
            archived = [parse_audit_entry(raw) for raw in raws]
        return archived + live

    async def _live_trail(self, outcome: Outcome) -> tuple[int, list[AuditEvent] | None]:
        """The chain's base and the outcome's events after it; None when the archive moved
        events between the two reads (the entries found are then not the ones indexed)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.keys.audit_base(outcome.workspace), "seq")
            pipe.lrange(self.keys.audit_index(outcome.id), 0, -1)
            base, indexed = await pipe.execute()
        moved = int(base or 0)
        seqs = [int(seq) for seq in indexed if int(seq) > moved]
        pipe = self.redis.pipeline(transaction=True)
        for seq in seqs:
            pipe.lindex(self.keys.audit(outcome.workspace), seq - 1 - moved)
        pipe.hget(self.keys.audit_base(outcome.workspace), "seq")
        *raws, after = await pipe.execute()
        if int(after or 0) != moved:
            return moved, None
        return moved, [parse_audit_entry(raw) for raw in raws if raw is not None]

    async def get_json(self, key: str) -> dict[str, Any] | None:
        raw = await self.redis.get(key)
        return json.loads(raw) if raw else None

    async def put_json(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        await self.redis.set(key, json.dumps(value), ex=ttl_s)

    async def delete(self, key: str) -> None:
        await self.redis.delete(key)

    async def first_time(self, key: str, ttl_s: int) -> bool:
        """True the first time `key` is seen within `ttl_s` (dedupe of redeliveries)."""
        return bool(await self.redis.set(self.keys.dedupe(key), "1", nx=True, ex=ttl_s))

    async def acquire(self, subject: str, owner: str, ttl_ms: int) -> bool:
        return bool(await self.redis.set(self.keys.lease(subject), owner, nx=True, px=ttl_ms))

    async def release(self, subject: str, owner: str) -> None:
        await self._release(keys=[self.keys.lease(subject)], args=[owner])

    async def drop_lease(self, subject: str) -> None:
        """Drop the lease on `subject` whoever holds it (its holder is presumed dead)."""
        await self.redis.delete(self.keys.lease(subject))

    async def an_outcome(self, workspace: str) -> Outcome | None:
        """Any one outcome of `workspace` (None without any): what they share, such as the
        chat platform they live on, is read from one."""
        member: Any = await self.redis.srandmember(self.keys.outcomes_of(workspace))
        if member is None:
            return None
        raw = await self.redis.hget(self.keys.outcome(_text(member)), "data")
        return Outcome.model_validate_json(raw) if raw is not None else None


@dataclass(frozen=True)
class TickSnapshot:
    """What one tick reads before it works: the outcome and everything around it."""

    outcome: Outcome
    measure_failures: int
    spent: float
    paused_all: bool
    history: list[Step]
    """The steps the loop needs: the latest ones, and older ones still unfinished,
    rejected, or their play's last run."""
    earlier_today: int = 0
    """Steps created today (and counting against the daily cap) not in `history`."""
    off_since: float | None = None
    """When the metric went off track (epoch seconds), while it is (`orchestrator.store.gauges`)."""
    off_answered: bool = False
    """A step was proposed since it went off track."""


def _planning_order(step: Step) -> tuple[datetime, int, str]:
    """Steps planned together share a time; their ids count up in planning order."""
    return step.created_at, number_of_id(step.id), step.id


def _steps(raws: list[bytes | str | None]) -> list[Step]:
    return [Step.model_validate_json(raw) for raw in raws if raw is not None]


def parse_audit_entry(raw: bytes | str) -> AuditEvent:
    entry = json.loads(raw)
    body = json.loads(entry["body"])
    return AuditEvent(seq=int(entry["seq"]), prev=entry["prev"], hash=entry["hash"], **body)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
