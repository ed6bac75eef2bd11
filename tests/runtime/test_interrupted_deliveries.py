"""A click, a Confirm and a statement cut off after each of their Redis writes, then run again
by another worker: each is decided exactly once and answered.

The job runs on a Redis client that dies (raises `Died`, which no handler catches, as a killed
process runs nothing more) at its Nth write; the second run gets the same job, as a worker
that reclaims it would, on a client that lives.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.demo.simulation import Business
from bot.slack.gateway import SlackGateway
from bot.slack.messages import SlackClick, SlackReply, SlackStatement
from bot.slack.replies import ReplyDelivery
from bot.slack.work import SlackWork
from handlers.cards import Click, Inbound
from orchestrator.models import ApprovalStatus, ConversationRef, MessageRef
from orchestrator.runtime.messages import AdvanceIntake, Message
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness
from tests.messages import handling

SLACK = ConversationRef(platform="slack", workspace="T1", channel="C1")
STATEMENT = "Cut monthly churn by 2 points by end of Q1"
WRITES = frozenset(
    {"SET", "DEL", "EVALSHA", "EVAL", "XADD", "XACK", "XDEL", "HSET", "HDEL", "INCR", "INCRBY"}
    | {"ZADD", "ZREM", "SADD", "SREM", "RPUSH", "EXPIRE", "PEXPIRE", "HINCRBY"}
)
MAX_WRITES = 12
"""More than any of these jobs makes: the sweep ends when a run is not cut off."""


class Died(BaseException):
    """The worker died: nothing after this runs (no handler catches a BaseException)."""


class DyingRedis(Redis):
    """A client whose process dies at a given write: `budget` writes go through, the next
    one does not. A pipeline counts as one write, sent whole or not at all."""

    budget: int | None = None
    writes: int = 0
    refusals: list[Exception] | None = None
    """Errors the next commits (EVALSHA) raise instead of running, one each."""

    def arm(self, budget: int | None) -> None:
        self.budget, self.writes = budget, 0

    def _write(self, commands: list[str]) -> None:
        if not WRITES.intersection(c.upper() for c in commands):
            return
        if self.budget is not None and self.writes >= self.budget:
            raise Died(f"died before write {self.writes + 1}: {commands}")
        self.writes += 1

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.refusals and str(args[0]).upper() == "EVALSHA":
            raise self.refusals.pop(0)
        self._write([str(args[0])])
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        async def dying_execute(raise_on_error: bool = True) -> list[Any]:
            self._write([str(args[0]) for args, _ in pipe.command_stack])
            return await execute(raise_on_error)

        pipe.execute = dying_execute  # type: ignore[method-assign]
        return pipe


@dataclass
class Slack:
    """Baton with Slack's job kinds, on the dying client, in-process."""

    harness: Harness
    redis: DyingRedis
    work: SlackWork

    async def settle(self) -> None:
        self.redis.arm(None)
        await self.harness.runtime.drain()

    async def run_cut_off(self, job: Message, at: int) -> bool:
        """Run `job` dying at write `at` + 1; then as another worker, whole. Whether the
        first run was cut off."""
        handler = self.harness.runtime.worker.handlers.handler(job)
        self.redis.arm(at)
        try:
            await handler(job, handling(job, f"{at}-1"))
            cut = False
        except Died:
            cut = True
        self.redis.arm(None)
        await handler(job, handling(job, f"{at}-1"))  # never acknowledged: a second worker runs it
        await self.harness.runtime.drain()
        return cut


@pytest.fixture
async def slack(
    redis_url: str, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Slack]:
    redis = cast(DyingRedis, DyingRedis.from_url(redis_url))
    harness = build_harness(redis, keys, workspace, business)
    notifier = harness.runtime.notifier
    notifier.gateways["slack"] = harness.gateway  # type: ignore[attr-defined]
    gateway = cast(SlackGateway, harness.gateway)
    work = SlackWork(
        harness.conversation, gateway, store=harness.store, queue=harness.runtime.ctx.queue
    )
    harness.runtime.register(SlackClick, work.click)
    harness.runtime.register(SlackStatement, work.statement)
    harness.runtime.register(SlackReply, ReplyDelivery(gateway, harness.store))
    await harness.runtime.start()
    yield Slack(harness, redis, work)
    await harness.connectors.close()
    await redis.aclose()


async def _statement(slack: Slack, n: int) -> str:
    """A ready Statement of Benefit stated in Slack; its session id."""
    inbound = Inbound(SLACK, "olivia", STATEMENT, delivery_id=f"slack:T1:st{n}")
    await slack.harness.conversation.on_message(inbound)
    await slack.settle()
    return slack.harness.gateway.buttons("confirm")[-1]


async def _approval(slack: Slack, n: int) -> str:
    session = await _statement(slack, n)
    click = Click(SLACK, "olivia", "confirm", session, delivery_id=f"slack:T1:c{n}")
    await slack.harness.conversation.on_click(click)
    await slack.settle()
    return slack.harness.gateway.buttons("approve")[-1]


def _card_of(slack: Slack, action: str, value: str) -> MessageRef:
    return next(
        s.ref for s in slack.harness.gateway.sent for b in s.card.buttons if b.value == value
    )


async def _decisions(slack: Slack, approval_id: str) -> list[str]:
    approval = await slack.harness.store.approval(approval_id)
    trail = await slack.harness.store.audit_trail(
        await slack.harness.store.outcome(approval.outcome_id)
    )
    decisions = ("approval.approved", "approval.rejected", "approval.expired")
    return [
        e.action for e in trail if e.subject == f"approval:{approval_id}" and e.action in decisions
    ]


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "reject"])
async def test_a_click_cut_off_at_any_write_is_decided_once_and_answered(
    slack: Slack, approve: bool
) -> None:
    for at in range(MAX_WRITES):
        approval_id = await _approval(slack, at)
        card = _card_of(slack, "approve", approval_id)
        action = "approve" if approve else "reject"
        click = Click(
            SLACK,
            "alice",
            action,
            approval_id,
            reason="" if approve else "too generous",
            message=card,
            delivery_id=f"slack:T1:1700000000.{at:06d}:alice",
        )
        offers_before = len(slack.harness.gateway.private)
        cut = await slack.run_cut_off(SlackClick.of(click), at)

        decided = await slack.harness.store.approval(approval_id)
        status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
        assert (decided.status, decided.decided_by) == (status, "alice"), f"cut at {at}"
        assert await _decisions(slack, approval_id) == [f"approval.{status.value}"]
        shown = next(s for s in slack.harness.gateway.sent if s.ref == card).current
        assert f"{status.value.capitalize()} by @alice" in shown.text(), f"cut at {at}"
        offers = slack.harness.gateway.private[offers_before:]
        assert len(offers) == (0 if approve else 1), f"cut at {at}: {offers}"
        if not cut:
            return
    raise AssertionError(f"the click was still cut off after {MAX_WRITES} writes")


async def test_a_confirm_cut_off_at_any_write_starts_one_outcome_and_answers(
    slack: Slack,
) -> None:
    for at in range(MAX_WRITES):
        session = await _statement(slack, at)
        card = _card_of(slack, "confirm", session)
        click = Click(
            SLACK, "olivia", "confirm", session, message=card, delivery_id=f"slack:T1:c{at}"
        )
        cut = await slack.run_cut_off(SlackClick.of(click), at)

        outcome = await slack.harness.store.outcome("o" + session[1:])
        trail = await slack.harness.store.audit_trail(outcome)
        assert [e.action for e in trail].count("outcome.confirmed") == 1, f"cut at {at}"
        updates = next(s for s in slack.harness.gateway.sent if s.ref == card).updates
        confirmed = [u for u in updates if u.title.startswith("Confirmed")]
        assert len(confirmed) == 1, f"cut at {at}: {updates}"
        assert await slack.harness.runtime.intake.load(session) is None
        if not cut:
            return
    raise AssertionError(f"the Confirm was still cut off after {MAX_WRITES} writes")


async def test_a_statement_cut_off_at_any_write_opens_one_intake(slack: Slack) -> None:
    for at in range(MAX_WRITES):
        before = len(slack.harness.gateway.buttons("confirm"))
        statement = SlackStatement(
            team_id="T1",
            channel_id="C1",
            user_id="olivia",
            text=STATEMENT,
            trigger_id=f"trigger-{at}",
        )
        cut = await slack.run_cut_off(statement, at)

        assert len(slack.harness.gateway.buttons("confirm")) == before + 1, f"cut at {at}"
        if not cut:
            return
    raise AssertionError(f"the statement was still cut off after {MAX_WRITES} writes")


@pytest.mark.parametrize(
    "error",
    [
        ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
        RedisConnectionError("Connection reset by peer"),
        RedisTimeoutError("Timeout reading from socket"),
    ],
    ids=["oom", "connection", "timeout"],
)
async def test_a_click_redis_refused_is_retried_not_answered_as_failed(
    slack: Slack, error: Exception
) -> None:
    approval_id = await _approval(slack, 0)
    click = Click(SLACK, "alice", "approve", approval_id, delivery_id="slack:T1:1.000001:alice")
    runtime = slack.harness.runtime
    await runtime.ctx.queue.enqueue(SlackClick.of(click))
    slack.redis.refusals = [error]
    with contextlib.suppress(RedisConnectionError, RedisTimeoutError, ResponseError):
        await runtime.worker.run_once()  # an outage reaches the worker, which waits it out
    assert (await slack.harness.store.approval(approval_id)).status is ApprovalStatus.PENDING

    worker = runtime.worker
    for job in await runtime.ctx.queue.reclaim(worker.name, 0, 10):  # a job left pending
        await worker.handle(job)
    slack.harness.clock.advance(timedelta(seconds=30))  # a retry's backoff has passed
    await runtime.drain()
    decided = await slack.harness.store.approval(approval_id)
    assert (decided.status, decided.decided_by) == (ApprovalStatus.APPROVED, "alice")
    said = [card.title for _, card in slack.harness.gateway.private]
    assert not [t for t in said if "went wrong" in t], said


async def test_an_intake_step_cut_off_at_any_write_shows_one_statement(slack: Slack) -> None:
    store = slack.harness.store
    for at in range(MAX_WRITES):
        before = len(slack.harness.gateway.buttons("confirm"))
        inbound = Inbound(SLACK, "olivia", STATEMENT, delivery_id=f"slack:T1:in{at}")
        await slack.harness.conversation.on_message(inbound)
        pointer = await store.get_json(store.keys.intake(SLACK.key))
        assert pointer is not None
        job = AdvanceIntake(session=pointer["id"])
        cut = await slack.run_cut_off(job, at)  # then the queued job itself runs too

        assert len(slack.harness.gateway.buttons("confirm")) == before + 1, f"cut at {at}"
        if not cut:
            return
    raise AssertionError(f"the intake step was still cut off after {MAX_WRITES} writes")
