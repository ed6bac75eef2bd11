"""Jobs are typed messages on a wire format that does not change: an entry queued by the
previous version decodes into its message and queues again byte for byte, and an entry
nobody can decode is set aside with its reason, never retried nor crashing the worker."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from orchestrator.errors import ConfigError
from orchestrator.runtime import messages as m
from orchestrator.runtime.dispatch import Handlers, Undecodable
from orchestrator.runtime.queue import Delivery, JobQueue, encode
from orchestrator.store.keys import Keys
from tests.conftest import Harness
from tests.messages import Numbered, enqueue_raw

WHERE = {"platform": "slack", "workspace": "T1", "channel": "C1", "thread": "1700000000.000100"}
NOTICE = {
    "id": "5f0c6a4e9b2d4c1e8a7f3b6d2e1c0a9f",
    "kind": "approval_requested",
    "conversation": WHERE,
    "outcome_id": "o12-T1",
    "step_id": "s40-T1",
    "approval_id": "a40-T1",
    "text": "",
    "data": {},
}
INCIDENT = {
    "kind": "job_dead_lettered",
    "workspace": "T1",
    "outcome_id": "o12-T1",
    "what": "a tick job was set aside: boom",
    "dedup_key": "baton:job_dead_lettered:1700000000000-0",
    "action": "trigger",
    "at": "2027-01-04T09:00:00Z",
    "details": {"job": "tick", "payload": {"outcome": "o12-T1"}},
}

TODAY: list[tuple[type[m.Message], str, dict[str, Any]]] = [
    (m.Tick, "tick", {"outcome": "o12-T1"}),
    (m.Tick, "tick", {"outcome": "o12-T1", "replan": True}),
    (m.Execute, "execute", {"step": "s40-T1", "outcome": "o12-T1"}),
    (m.Execute, "execute", {"step": "s40-T1", "outcome": "o12-T1", "watchdog": True}),
    (m.Notify, "notify", NOTICE),
    (m.Page, "page", INCIDENT),
    (m.AdvanceIntake, "intake", {"session": "i7-T1"}),
    (m.ExpireApproval, "approval_timeout", {"approval": "a40-T1"}),
    (m.RemindApprovers, "approval_remind", {"approval": "a40-T1"}),
    (m.EscalateApproval, "approval_escalate", {"approval": "a40-T1"}),
    (m.NameStandIns, "approval_stand_ins", {"approval": "a40-T1"}),
    (m.PostDigest, "digest", {}),
    (m.PostDigest, "digest", {"cron": "weekly_digest", "at": "20270104T0900"}),
    (m.ArchiveBatch, "archive", {"cron": "history_archive", "at": "20270104T0910"}),
    (m.RunCase, "case", {"case": "c3-T1"}),
    (m.ClimbCaseSla, "case_sla", {"case": "c3-T1", "rung": "escalate"}),
    (m.PollCaseSource, "case_poll", {"workspace": "T1", "source": "tickets"}),
]
"""Entries of every core kind, as the version before typed messages queued them."""


def core_handlers() -> Handlers:
    async def nothing(message: m.Message, work: Delivery) -> None:
        return None

    return Handlers.of(dict.fromkeys(m.CORE, nothing))


def test_every_core_kind_has_an_entry_of_today() -> None:
    assert {kind for _, kind, _ in TODAY} == {message.KIND for message in m.CORE}


@pytest.mark.parametrize(("message", "kind", "payload"), TODAY, ids=[t[1] for t in TODAY])
async def test_an_entry_of_today_decodes_and_queues_again_as_it_was(
    redis: Redis, keys: Keys, message: type[m.Message], kind: str, payload: dict[str, Any]
) -> None:
    queue = JobQueue(redis, keys)
    await queue.ensure_group()
    entry = orjson.dumps({"attempt": 2, "kind": kind, "payload": payload}).decode()
    await redis.xadd(keys.jobs(), {"job": entry})
    (job,) = await queue.read("w1")

    decoded = core_handlers().decode(job.kind, job.payload)

    assert type(decoded) is message
    assert decoded.payload() == payload
    assert encode(decoded.KIND, decoded.payload(), job.attempt) == encode(kind, payload, 2)


def test_messages_queue_the_payloads_of_today() -> None:
    notice = m.Notify.from_payload(NOTICE).notice
    assert m.Notify(notice=notice).payload() == NOTICE
    assert m.Tick(outcome="o1").payload() == {"outcome": "o1"}
    assert m.Execute(step="s1", outcome="o1", watchdog=False).payload() == {
        "step": "s1",
        "outcome": "o1",
    }
    assert m.PostDigest(cron="weekly_digest", at="20270104T0900").payload() == {
        "cron": "weekly_digest",
        "at": "20270104T0900",
    }


def test_a_message_class_or_kind_is_registered_once() -> None:
    handlers = core_handlers()

    async def again(message: m.Tick, work: Delivery) -> None:
        return None

    with pytest.raises(ConfigError, match="'tick' is already registered"):
        handlers.register(m.Tick, again)

    class Impostor(m.Tick):
        """Another class that claims the kind `tick`."""

    with pytest.raises(ConfigError, match="'tick' is already registered"):
        handlers.register(Impostor, again)


def test_an_unknown_kind_or_a_payload_that_is_not_its_message_is_undecodable() -> None:
    handlers = core_handlers()
    with pytest.raises(Undecodable, match="no handler for job kind 'teleport'"):
        handlers.decode("teleport", {})
    with pytest.raises(Undecodable, match="tick job's payload is not valid"):
        handlers.decode("tick", {"replan": True})
    with pytest.raises(Undecodable, match="approval_timeout job's payload is not valid"):
        handlers.decode("approval_timeout", {"approval": ["a1"]})


async def test_undecodable_jobs_are_set_aside_with_their_reason_and_the_worker_goes_on(
    harness: Harness,
) -> None:
    runtime = harness.runtime
    queue = runtime.ctx.queue
    handled: list[int] = []

    async def numbered(message: Numbered, work: Delivery) -> None:
        handled.append(message.n)

    runtime.register(Numbered, numbered)
    await enqueue_raw(queue, "teleport", {"to": "mars"})
    await enqueue_raw(queue, "tick", {"replan": True})
    await queue.enqueue(Numbered(n=7))

    await runtime.drain()

    assert handled == [7]
    assert await queue.dead() == 2
    assert (await queue.pending(), await queue.backlog(), await queue.next_due()) == (0, 0, None)
    dead: Any = await queue.redis.xrange(queue.keys.dead_letters(queue.keys.tag("")))
    entries = [(orjson.loads(fields[b"job"]), fields[b"error"].decode()) for _, fields in dead]
    assert entries[0][0] == {"attempt": 0, "kind": "teleport", "payload": {"to": "mars"}}
    assert entries[0][1] == "no handler for job kind 'teleport'"
    assert entries[1][0]["payload"] == {"replan": True}  # set aside as it came
    assert entries[1][1].startswith("a tick job's payload is not valid")
