"""Earned autonomy end to end: approved often enough, never rejected, with a favourable
measured effect, a step earns its approvers an offer to auto-approve it within bounds;
an approver accepts it with a click, policy then approves matching steps itself (the
audit names the rule), and a click revokes it. Never offered for an `always_ask` action."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from handlers.cards import Reply
from orchestrator.models import StepStatus
from orchestrator.steps import autonomy
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness

STATEMENTS = tuple(f"Reduce at-risk customers by {n}% by 30 June" for n in (10, 20, 30, 40, 50))


def earning(workspace: Workspace, *, always_ask: bool = False) -> Workspace:
    """The demo with the at-risk count's win-back play, its effect read 3 days after it
    ran (a reactivated customer is active the next day) and split by plan; an offer
    after 3 approvals."""
    send = workspace.actions["send_winback"].model_copy(
        update={"effect_days": 3.0, "always_ask": always_ask, "segment": "plan"}
    )
    policy = workspace.policy.model_copy(update={"autonomy_after": 3})
    return workspace.model_copy(
        update={"actions": {**workspace.actions, "send_winback": send}, "policy": policy}
    )


async def build(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    built = build_harness(redis, keys, workspace, business)
    await built.runtime.start()
    yield built
    await built.connectors.close()


@pytest.fixture
async def harness(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    async for built in build(redis, keys, earning(workspace), business):
        yield built


@pytest.fixture
async def asking(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    async for built in build(redis, keys, earning(workspace, always_ask=True), business):
        yield built


async def days(harness: Harness, count: int) -> None:
    for _ in range(count):
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()


async def approve_next(harness: Harness, statement: str) -> tuple[str, list[Reply]]:
    """State an outcome and approve its win-back send; (approval id, the click's replies)."""
    asked = set(harness.gateway.buttons("approve"))
    await harness.state("olivia", statement)
    (approval_id,) = [a for a in harness.gateway.buttons("approve") if a not in asked]
    return approval_id, await harness.click("alice", "approve", approval_id)


async def two_measured_runs(harness: Harness) -> None:
    for statement in STATEMENTS[:2]:
        _, replies = await approve_next(harness, statement)
        assert replies == []  # too few approvals yet: no offer
    await days(harness, 4)


async def test_an_earned_rule_is_offered_accepted_honoured_and_revoked(harness: Harness) -> None:
    await two_measured_runs(harness)
    listed = (await harness.say("olivia", "evidence"))[0].card.lines
    (whole,) = [line for line in listed if line.startswith("send_winback on at_risk_customers: ")]
    assert "2 runs" in whole
    assert any(line.startswith("send_winback [segment ") for line in listed)
    approval_id, replies = await approve_next(harness, STATEMENTS[2])
    card = next(
        s.current
        for s in harness.gateway.sent
        if any(b.value == approval_id for b in s.card.buttons)
    )
    segments = [line for line in card.lines if line.startswith("  plan ")]
    assert segments and all("per 100 (95% CI " in line for line in segments)
    (offer,) = replies
    assert not offer.private  # to the conversation, where the approvers are
    assert offer.card.title == "Approve this without asking next time? send_winback"
    assert offer.card.lines[0] == "Approved 3 times by people, never rejected."
    assert [(b.action, b.value) for b in offer.card.buttons] == [("autonomy", approval_id)]
    assert set(offer.card.mentions) == {"alice", "bob"}
    record = await autonomy.record_of(harness.runtime.ctx, "T1", "send_winback", "")
    assert (record.approved, record.rejected) == (3, 0)
    assert offer.card.lines[2].startswith(
        f"Within bounds: up to {record.audience} in the audience and 0 GBP a step;"
    )

    refused = await harness.click("mallory", "autonomy", approval_id)
    assert refused[0].private and "Only the owner and the approvers" in refused[0].card.title
    (added,) = await harness.click("bob", "autonomy", approval_id)
    rule_name = f"auto-approve send_winback up to {record.audience} in the audience and 0 GBP"
    assert added.card.title.startswith(f"Rule added by @bob: {rule_name}.")
    assert [(b.action, b.value) for b in added.card.buttons] == [("revoke", approval_id)]
    policies = (await harness.say("olivia", "policies"))[0].card.lines
    assert any(line.startswith(f"1. {rule_name} · earned (accepted by @bob") for line in policies)
    chain = await harness.store.audit_chain("T1")
    (accepted,) = [e for e in chain if e.action == "policy.rule_added"]
    assert (accepted.actor, accepted.detail["earned"], accepted.detail["approved"]) == (
        "bob",
        "true",
        "3",
    )

    # The next win-back send is approved by the rule, not asked; the audit names the rule.
    asked = set(harness.gateway.buttons("approve"))
    outcome = await harness.state("olivia", STATEMENTS[3])
    assert set(harness.gateway.buttons("approve")) == asked
    (sent,) = [s for s in await harness.store.steps(outcome) if s.action == "send_winback"]
    assert sent.status is StepStatus.SUCCEEDED and sent.audience <= record.audience
    trail = [e for e in await harness.store.audit_chain("T1") if e.subject == f"step:{sent.id}"]
    auto = next(e for e in trail if e.action == "step.auto")
    assert (auto.actor, auto.detail["rule"]) == ("policy", rule_name)

    (revoked,) = await harness.click("alice", "revoke", approval_id)
    assert (
        revoked.card.title
        == f"Rule revoked by @alice: {rule_name}. Steps of it ask a person again."
    )
    again = await harness.click("alice", "revoke", approval_id, delivery_id="other")
    assert again[0].private and again[0].card.title == "That rule is no longer in the policy."
    await harness.state("olivia", STATEMENTS[4])
    assert len(set(harness.gateway.buttons("approve")) - asked) == 1  # asked again


async def test_an_always_ask_action_is_never_offered(asking: Harness) -> None:
    await two_measured_runs(asking)
    approval_id, replies = await approve_next(asking, STATEMENTS[2])
    assert replies == []
    approval = await asking.store.approval(approval_id)
    assert await autonomy.eligible(asking.runtime.ctx, approval) is None
    record = await autonomy.record_of(asking.runtime.ctx, "T1", "send_winback", "")
    assert (record.approved, record.rejected) == (3, 0)
