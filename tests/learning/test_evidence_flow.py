"""Evidence end to end: a measured step enters the workspace's evidence library, which
`evidence` lists and the next approval card for the same action quotes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from handlers.cards import Card
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness

CHURN = "Cut monthly churn by 2 points by end of Q1"


def card_with(harness: Harness, approval_id: str) -> Card:
    return next(
        s.current
        for s in harness.gateway.sent
        if any(b.value == approval_id for b in s.card.buttons)
    )


async def next_day(harness: Harness) -> None:
    harness.clock.advance(timedelta(days=1))
    harness.business.advance_day()
    await harness.runtime.drain()


@pytest.fixture
async def harness(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    """The demo workspace with the win-back play alone, so every plan is the same one."""
    win_back = tuple(p for p in workspace.playbooks["churn_rate"] if p.name == "win_back")
    only = workspace.model_copy(update={"playbooks": {"churn_rate": win_back}})
    built = build_harness(redis, keys, only, business)
    await built.runtime.start()
    yield built
    await built.connectors.close()


async def test_a_measured_step_becomes_evidence_for_the_next_approval(harness: Harness) -> None:
    listed = (await harness.say("olivia", "evidence"))[0].card
    assert listed.lines == ("No evidence yet: no step has been measured against a control group.",)
    await harness.state("olivia", CHURN)
    first = harness.gateway.buttons("approve")[-1]
    card = card_with(harness, first)
    assert "Evidence: no earlier run measured yet; this one will be" in card.lines
    await harness.click("alice", "approve", first)
    step_id = (await harness.store.approval(first)).step_id
    for _ in range(25):
        await next_day(harness)
        if (await harness.store.step(step_id)).incremental is not None:
            break
    effect = (await harness.store.step(step_id)).incremental
    assert effect is not None and effect.on_metric is not None
    listed = (await harness.say("olivia", "evidence"))[0].card
    (row,) = [line for line in listed.lines if line.startswith("send_winback on churn_rate: ")]
    assert "1 run, 36 treated against 4 held back" in row
    measured = row.split(": ")[1].split(" per 100")[0]
    assert measured == f"{effect.on_metric / 36 * 100:+.2f}"  # one run: its own effect
    # A second churn outcome's win-back approval quotes the first run's measured effect.
    await harness.state("bob", "Cut monthly churn by 1 point by end of Q2")
    second = harness.gateway.buttons("approve")[-1]
    assert second != first
    shown = [line for line in card_with(harness, second).lines if line.startswith("Evidence")]
    assert len(shown) == 1
    assert shown[0].startswith(
        f"Evidence: 1 earlier run: {measured} points of churn_rate per 100 customers treated "
        "(95% CI "
    )
