"""The history store keeps one row per record however often a batch is written, and keeps
each kind as long as its retention says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.errors import ConfigError
from orchestrator.history.archive import retention
from orchestrator.history.store import Batch, HistoryStore
from orchestrator.models import Lane, Measurement, Step, StepStatus

NOW = datetime(2027, 6, 1, tzinfo=UTC)


def _step(n: int, days_ago: int) -> Step:
    at = NOW - timedelta(days=days_ago)
    return Step(
        id=f"s{n}",
        outcome_id="o1",
        workspace="T1",
        action="find_at_risk",
        lane=Lane.LOGIC,
        status=StepStatus.SUCCEEDED,
        created_at=at,
        finished_at=at,
    )


async def test_a_batch_written_twice_is_stored_once(history: HistoryStore) -> None:
    batch = Batch(
        steps=[_step(1, 3), _step(2, 2)],
        measurements=[("o1", n, Measurement(value=n, at=NOW)) for n in (1, 2, 3)],
    )
    await history.put(batch)
    await history.put(batch)

    assert [s.id for s in await history.steps("o1")] == ["s1", "s2"]
    assert [m.value for m in await history.measurements("o1", upto=2)] == [1, 2]
    assert [m.value for m in await history.measurements("o1", upto=3, last=1)] == [3]
    assert (await history.counts())["measurements"] == 3


async def test_retention_prunes_each_kind_on_its_own(history: HistoryStore) -> None:
    await history.put(
        Batch(
            steps=[_step(1, 400), _step(2, 10)],
            measurements=[("o1", 1, Measurement(value=1, at=NOW - timedelta(days=400)))],
        )
    )
    kept = retention(1_000, 12, "steps=365", 500).keep_days

    pruned = await history.prune("steps", NOW - timedelta(days=kept["steps"]))

    assert pruned == 1
    assert [s.id for s in await history.steps("o1")] == ["s2"]
    assert (await history.counts())["measurements"] == 1  # kept for good: not listed


@pytest.mark.parametrize("keep", ["audit=30", "steps", "steps=soon", "steps=0", "approvals=-1"])
def test_a_retention_that_cannot_be_read_is_refused(keep: str) -> None:
    with pytest.raises(ConfigError, match="BATON_HISTORY_KEEP"):
        retention(1_000, 12, keep, 500)
