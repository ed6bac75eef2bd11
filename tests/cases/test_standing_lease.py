"""A standing outcome's tick takes no lease in the loop's snapshot: the standing tick
takes its own, and none is left behind."""

from __future__ import annotations

from orchestrator.models import OutcomeKind
from orchestrator.steps.execute import LEASE_MS
from orchestrator.store.redis_store import TickSnapshot
from tests.cases.conftest import audit_actions, next_poll, sign, stand
from tests.conftest import Harness

TARGET = "Cut monthly churn by 2 points by end of Q1"


async def leases(harness: Harness) -> list[str]:
    found = await harness.store.redis.keys(harness.store.keys.lease("*"))
    return [key.decode() if isinstance(key, bytes) else key for key in found]


async def test_the_snapshot_takes_no_lease_for_a_standing_outcome(harness: Harness) -> None:
    outcome_id = await stand(harness)
    assert (await harness.store.outcome(outcome_id)).kind is OutcomeKind.STANDING
    assert await harness.store.tick_snapshot(outcome_id, "w1", LEASE_MS) == "standing"
    assert await leases(harness) == []
    assert await harness.runtime.loop.tick(outcome_id, None) is False  # the standing tick's turn
    assert await leases(harness) == []


async def test_a_standing_outcome_still_ticks_and_leaves_no_lease(
    harness: Harness,
) -> None:
    outcome_id = await stand(harness)
    await harness.store.tick_snapshot(outcome_id, harness.runtime.loop.worker_id, LEASE_MS)
    assert await harness.store.acquire(f"outcome:{outcome_id}", "other", LEASE_MS)
    await harness.store.release(f"outcome:{outcome_id}", "other")
    number = sign(harness, "Acme")
    await next_poll(harness)
    assert "case.done" in await audit_actions(harness, f"case:contracts:{number}")
    assert await leases(harness) == []


async def test_a_target_outcome_and_a_missing_one_for_comparison(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", TARGET)
    snapshot = await harness.store.tick_snapshot(outcome_id, "w1", LEASE_MS)
    assert isinstance(snapshot, TickSnapshot)
    lease = harness.store.keys.lease(f"outcome:{outcome_id}")
    assert await harness.store.redis.get(lease) == b"w1"
    assert await harness.store.tick_snapshot(outcome_id, "w2", LEASE_MS) == "leased"
    assert await harness.store.tick_snapshot("o404", "w1", LEASE_MS) == "missing"
    assert await harness.store.redis.get(lease) == b"w1"
    assert await leases(harness) == [lease]
