"""A commit joined to another with `Commit.then`, and checks on records a commit itself
writes: all or nothing, audit events in order, the chain intact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.errors import NotFound, TransitionRefused
from orchestrator.models import (
    Outcome,
    Step,
    StepStatus,
)
from orchestrator.store import transitions
from orchestrator.store.audit import verify
from orchestrator.store.commit import Commit
from orchestrator.store.redis_store import RedisStore
from tests.fakes import a_step, an_outcome

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


outcome = an_outcome

step = a_step


def move(
    store: RedisStore,
    before: Outcome | Step | None,
    after: Outcome | Step,
    action: str,
    commit: Commit | None = None,
) -> Commit:
    return transitions.record(
        commit if commit is not None else Commit(),
        store.keys,
        before,
        after,
        actor="agent",
        at=NOW,
        action=action,
    )


def planned_then(store: RedisStore, status: StepStatus, commit: Commit) -> Commit:
    """`commit` with the step planned and then moved from planned to `status`."""
    move(store, None, step(), "step.planned", commit)
    return move(store, step(), step(status), f"step.{status.value}", commit)


async def actions(store: RedisStore) -> list[str]:
    return [event.action for event in await store.audit_chain("T1")]


async def test_joined_commits_apply_together_with_their_events_in_order(
    store: RedisStore,
) -> None:
    first = move(store, None, outcome(), "outcome.confirmed")
    first.op("SADD", store.keys.outcomes_of("T1"), "o1")
    second = move(store, None, step(), "step.planned")
    second.op("RPUSH", store.keys.steps_of("o1"), "s1")
    await store.apply(first.then(second))
    assert (await store.outcome("o1")).status.value == "active"
    assert [s.id for s in await store.steps("o1")] == ["s1"]
    assert await store.outcomes("T1") == [await store.outcome("o1")]
    assert await actions(store) == ["outcome.confirmed", "step.planned"]
    trail = await store.audit_trail(outcome())
    assert [e.action for e in trail] == ["outcome.confirmed", "step.planned"]
    verdict = await verify(store, "T1")
    assert verdict.intact and verdict.events == 2


async def test_a_refused_check_in_the_second_leaves_nothing_of_the_first(
    store: RedisStore,
) -> None:
    first = move(store, None, outcome(), "outcome.confirmed")
    first.op("SADD", store.keys.outcomes_of("T1"), "o1")
    second = Commit().absent(store.keys.kill_switch("T1"), "paused for the workspace")
    move(store, None, step(), "step.planned", second)
    await store.redis.set(store.keys.kill_switch("T1"), "oscar")
    with pytest.raises(TransitionRefused) as refused:
        await store.apply(first.then(second))
    assert refused.value.reason == "paused for the workspace"
    with pytest.raises(NotFound):
        await store.outcome("o1")
    with pytest.raises(NotFound):
        await store.step("s1")
    assert await store.outcomes("T1") == []
    assert await actions(store) == []
    assert (await verify(store, "T1")).events == 0


async def test_a_stored_record_that_moved_on_refuses_the_joined_commit(
    store: RedisStore,
) -> None:
    await store.apply(move(store, None, outcome(), "outcome.confirmed"))
    await store.apply(move(store, None, step(), "step.planned"))
    await store.apply(move(store, step(), step(StepStatus.CANCELLED), "step.cancelled"))
    first = Commit().op("SADD", store.keys.outcomes_of("T1"), "o1")
    second = move(store, step(), step(StepStatus.APPROVED), "step.auto")  # read as planned
    with pytest.raises(TransitionRefused) as refused:
        await store.apply(first.then(second))
    assert refused.value.actual == "cancelled"
    assert (await store.step("s1")).status is StepStatus.CANCELLED
    assert await store.outcomes("T1") == []
    assert await actions(store) == ["outcome.confirmed", "step.planned", "step.cancelled"]


async def test_then_decides_a_check_on_what_the_first_writes(store: RedisStore) -> None:
    first = move(store, None, step(), "step.planned")
    second = move(store, step(), step(StepStatus.APPROVED), "step.auto")
    joined = first.then(second)
    assert [c.key for c in joined.checks] == [store.keys.step("s1")]  # only the creation's
    await store.apply(joined)
    assert (await store.step("s1")).status is StepStatus.APPROVED
    assert await actions(store) == ["step.planned", "step.auto"]
    assert (await verify(store, "T1")).intact


async def test_then_carries_what_the_second_writes_to_later_checks(store: RedisStore) -> None:
    joined = move(store, None, step(), "step.planned").then(
        move(store, step(), step(StepStatus.APPROVED), "step.auto")
    )
    with pytest.raises(TransitionRefused) as refused:
        joined.expect(store.keys.step("s1"), StepStatus.PLANNED.value)
    assert refused.value.actual == "approved"
    move(store, step(StepStatus.APPROVED), step(StepStatus.RUNNING), "step.running", joined)
    await store.apply(joined)
    assert (await store.step("s1")).status is StepStatus.RUNNING
    assert await actions(store) == ["step.planned", "step.auto", "step.running"]


async def test_then_refuses_a_check_that_contradicts_the_first(store: RedisStore) -> None:
    first = move(store, None, step(), "step.planned")
    second = move(store, step(StepStatus.APPROVED), step(StepStatus.RUNNING), "step.running")
    with pytest.raises(TransitionRefused) as refused:
        first.then(second)
    assert (refused.value.expected, refused.value.actual) == (("approved",), "planned")
    with pytest.raises(NotFound):
        await store.step("s1")
    assert await actions(store) == []


async def test_one_commit_plans_and_governs_a_step(store: RedisStore) -> None:
    commit = planned_then(store, StepStatus.APPROVED, Commit())
    await store.apply(commit)
    stored = await store.step("s1")
    assert stored.status is StepStatus.APPROVED
    assert await actions(store) == ["step.planned", "step.approved"]
    chain = await store.audit_chain("T1")
    assert [(e.before, e.after) for e in chain] == [(None, "planned"), ("planned", "approved")]
    assert (await verify(store, "T1")).intact


async def test_a_check_contradicting_an_earlier_write_is_refused(store: RedisStore) -> None:
    commit = move(store, None, step(), "step.planned")
    with pytest.raises(TransitionRefused) as refused:
        move(store, step(StepStatus.APPROVED), step(StepStatus.RUNNING), "step.running", commit)
    assert refused.value.key == store.keys.step("s1")
    assert (refused.value.expected, refused.value.actual) == (("approved",), "planned")
    assert [w["fields"][1] for w in commit.writes] == ["planned"]  # the refused move added none
    with pytest.raises(NotFound):
        await store.step("s1")
    assert await actions(store) == []


async def test_a_check_made_before_the_commits_first_write_still_goes_to_the_store(
    store: RedisStore,
) -> None:
    await store.apply(move(store, None, step(), "step.planned"))
    await store.apply(move(store, step(), step(StepStatus.CANCELLED), "step.cancelled"))
    commit = move(store, step(), step(StepStatus.APPROVED), "step.auto")  # read as planned
    move(store, step(StepStatus.APPROVED), step(StepStatus.RUNNING), "step.running", commit)
    with pytest.raises(TransitionRefused) as refused:
        await store.apply(commit)
    assert refused.value.actual == "cancelled"
    assert (await store.step("s1")).status is StepStatus.CANCELLED
    assert await actions(store) == ["step.planned", "step.cancelled"]
