"""A tick reads what it needs, not an outcome's whole step history: the latest steps, and
of the older ones only what the loop decides with (unfinished and rejected steps, each
play's last run, today's count for the daily cap)."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.history.archive import Archiver, Retention
from orchestrator.history.store import HistoryStore
from orchestrator.models import Direction, Lane, Outcome, Step, StepStatus
from orchestrator.runtime.clock import ManualClock
from orchestrator.steps.govern import steps_on
from orchestrator.steps.planner import signature
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.store.redis_store import TICK_WINDOW, RedisStore, TickSnapshot
from tests.conftest import START
from tests.history.test_kill9 import CONSOLE

FINISHED = 2_000


def _step(n: int, status: StepStatus, play: str, days_ago: float) -> Step:
    at = START - timedelta(days=days_ago)
    done = status not in (StepStatus.AWAITING_APPROVAL, StepStatus.PLANNED)
    return Step(
        id=f"s{n}",
        outcome_id="o1",
        workspace="T1",
        action="find_at_risk",
        lane=Lane.LOGIC,
        params={"n": n % 7},
        play=play,
        status=status,
        created_at=at,
        finished_at=at if done else None,
    )


def _history() -> list[Step]:
    """2,000 finished steps over 60 days, a hundred of them today; among the old ones, a
    rejection, a step still waiting for a person, and the only run of a play with a cooldown."""
    steps = []
    for n in range(1, FINISHED + 1):
        # The last hundred today (more than a tick reads), the others over 60 days.
        days_ago = (FINISHED - n) / 1_000 if n > FINISHED - 100 else 60 * (FINISHED - n) / FINISHED
        status, play = StepStatus.SUCCEEDED, "daily"
        if n == 10:
            status = StepStatus.REJECTED
        elif n == 11:
            status = StepStatus.AWAITING_APPROVAL
        elif n == 12:
            play = "quarterly"
        elif n % 50 == 0:
            status = StepStatus.CANCELLED
        steps.append(_step(n, status, play, days_ago))
    return steps


async def _write(store: RedisStore, steps: list[Step]) -> None:
    outcome = Outcome(
        id="o1",
        workspace="T1",
        objective="Cut churn",
        metric="churn_rate",
        direction=Direction.DECREASE,
        baseline=9.0,
        target=0.1,
        started_at=START - timedelta(days=61),
        deadline=START + timedelta(days=90),
        owner="olivia",
        approvers=("alice",),
        conversation=CONSOLE,
        budget=100_000,
    )
    commit = transitions.record(
        Commit(), store.keys, None, outcome, actor="olivia", at=START, action="outcome.confirmed"
    )
    commit.op("SADD", store.keys.outcomes_of("T1"), "o1")
    commit.op("SADD", store.keys.workspaces(), "T1")
    await store.apply(commit)
    for first in range(0, len(steps), 200):
        commit = Commit()
        for step in steps[first : first + 200]:
            commit.write(store.keys.step(step.id), step.status.value, step.model_dump_json())
            commit.op("RPUSH", store.keys.steps_of("o1"), step.id)
        await store.apply(commit)


async def _snapshot(store: RedisStore) -> TickSnapshot:
    snapshot = await store.tick_snapshot("o1", "w1", 60_000, START.date())
    assert isinstance(snapshot, TickSnapshot)
    await store.release("outcome:o1", "w1")
    return snapshot


def _needs(snapshot: TickSnapshot, everything: list[Step]) -> None:
    """The snapshot decides as the whole history would."""
    ids = {s.id for s in snapshot.history}
    # The window, the rejected and the waiting step, and each play's last run left behind.
    assert len(snapshot.history) <= TICK_WINDOW + 2 + 2
    assert {s.id for s in everything[-TICK_WINDOW:]} <= ids
    assert {"s10", "s11", "s12"} <= ids  # rejected, waiting, a play's last run
    rejected = {signature(s.action, s.params) for s in snapshot.history if s.status == "rejected"}
    assert rejected == {signature(s.action, s.params) for s in everything if s.status == "rejected"}
    latest = max(
        (s for s in everything if s.play == "daily" and s.status == "succeeded"),
        key=lambda s: s.finished_at or s.created_at,
    )
    assert latest.id in ids
    today = steps_on(START, snapshot.history) + snapshot.earlier_today
    assert today == steps_on(START, everything) > TICK_WINDOW
    assert snapshot.earlier_today > 0


async def test_a_tick_reads_a_window_and_what_older_steps_decide(store: RedisStore) -> None:
    everything = _history()
    await _write(store, everything)

    first = await _snapshot(store)
    again = await _snapshot(store)

    _needs(first, everything)
    _needs(again, everything)
    assert [s.id for s in again.history] == [s.id for s in first.history]


async def test_the_window_holds_after_the_archive_moves_steps(
    store: RedisStore, history: HistoryStore
) -> None:
    everything = _history()
    await _write(store, everything)
    await _snapshot(store)  # the window starts near the end of the list
    store.history = history
    clock = ManualClock(START)
    moved = await Archiver(store, history, clock, Retention(batch=300)).run()

    snapshot = await _snapshot(store)

    assert moved.steps > FINISHED // 3
    _needs(snapshot, everything)
    assert [s.id for s in await store.steps("o1")] == [s.id for s in everything]
