"""The approval SLA ladder end to end with a manual clock, paging a local receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.models import ApprovalStatus, StepStatus
from orchestrator.notify.paging import PagerDutyPager, Pagers, WebhookPager
from orchestrator.runtime.queue import Job
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness
from tests.runtime.receiver import LOCAL, PageReceiver


@pytest.fixture
async def sla_harness(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business, receiver: PageReceiver
) -> AsyncIterator[Harness]:
    policy = workspace.policy.model_copy(
        update={"remind_after_h": 4, "escalate_after_h": 12, "approval_timeout_h": 24}
    )
    ladder_workspace = workspace.model_copy(update={"policy": policy})
    built = build_harness(redis, keys, ladder_workspace, business)
    built.runtime.pager = Pagers(
        [
            WebhookPager(receiver.url + "/hook", allow_private=LOCAL),
            PagerDutyPager("R0UTINGKEY", receiver.url + "/v2/enqueue", allow_private=LOCAL),
        ]
    )
    await built.runtime.start()
    yield built
    await built.connectors.close()


async def _actions(harness: Harness, outcome_id: str) -> list[str]:
    outcome = await harness.store.outcome(outcome_id)
    return [e.action for e in await harness.store.audit_trail(outcome)]


async def test_remind_escalate_page_expire(sla_harness: Harness, receiver: PageReceiver) -> None:
    harness = sla_harness
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    approval_id = harness.gateway.buttons("approve")[-1]
    sent_before = len(harness.gateway.sent)

    harness.clock.advance(timedelta(hours=3, minutes=59))
    await harness.runtime.drain()
    assert "approval.reminded" not in await _actions(harness, outcome_id)

    harness.clock.advance(timedelta(minutes=1))
    await harness.runtime.drain()
    assert "approval.reminded" in await _actions(harness, outcome_id)
    reminder = harness.gateway.sent[sent_before].current
    assert reminder.title.startswith("Reminder: ")
    assert {b.action for b in reminder.buttons} == {"approve", "reject", "edit"}
    assert receiver.bodies == []

    harness.clock.advance(timedelta(hours=8))
    await harness.runtime.drain()
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.PENDING
    assert "oscar" in approval.approvers  # the next person in the on-call chain
    assert "approval.escalated" in await _actions(harness, outcome_id)
    assert any(s.current.title.startswith("Escalated to oscar") for s in harness.gateway.sent)
    hook, duty = receiver.bodies
    assert hook["kind"] == "approval_escalated" and hook["outcome_id"] == outcome_id
    assert hook["runbook"] == "RUNBOOK.md#approval-escalated"
    assert duty["event_action"] == "trigger" and duty["routing_key"] == "R0UTINGKEY"
    assert duty["dedup_key"] == hook["dedup_key"]
    assert duty["payload"]["severity"] == "warning"

    harness.clock.advance(timedelta(hours=12))
    await harness.runtime.drain()
    approval = await harness.store.approval(approval_id)
    assert approval.status is ApprovalStatus.EXPIRED
    assert "default: deny" in approval.reason
    step = await harness.store.step(approval.step_id)
    assert step.status is StepStatus.EXPIRED
    resolves = [b for b in receiver.bodies if b.get("event_action") == "resolve"]
    assert resolves == [
        {"routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": duty["dedup_key"]}
    ]
    assert any(b.get("action") == "resolve" for b in receiver.bodies)


async def test_escalated_person_may_decide_and_ladder_stops(
    sla_harness: Harness, receiver: PageReceiver
) -> None:
    harness = sla_harness
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    approval_id = harness.gateway.buttons("approve")[-1]
    harness.clock.advance(timedelta(hours=12))
    await harness.runtime.drain()
    await harness.click("oscar", "approve", approval_id)
    assert (await harness.store.approval(approval_id)).decided_by == "oscar"
    harness.clock.advance(timedelta(hours=24))
    await harness.runtime.drain()
    actions = await _actions(harness, outcome_id)
    assert actions.count("approval.reminded") == 1
    assert actions.count("approval.escalated") == 1
    assert "approval.expired" not in actions


async def test_decided_before_the_reminder_means_no_reminder(
    sla_harness: Harness, receiver: PageReceiver
) -> None:
    harness = sla_harness
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    await harness.click("alice", "approve", harness.gateway.buttons("approve")[-1])
    harness.clock.advance(timedelta(hours=30))
    await harness.runtime.drain()
    actions = await _actions(harness, outcome_id)
    assert "approval.reminded" not in actions and "approval.escalated" not in actions
    assert receiver.bodies == []


async def test_dead_letter_raises_an_incident(sla_harness: Harness, receiver: PageReceiver) -> None:
    harness = sla_harness
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    await harness.runtime.worker.handle(Job("1-1", "no_such_kind", {"outcome": outcome_id}))
    await harness.runtime.drain()
    assert await harness.runtime.ctx.queue.dead() == 1
    assert harness.gateway.titles()[-1] == f"Incident on outcome {outcome_id}: job_dead_lettered"
    kinds = {b.get("kind") or b["payload"]["class"] for b in receiver.bodies}
    assert kinds == {"job_dead_lettered"}
