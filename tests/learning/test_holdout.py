"""Holdout groups: a deterministic split, recorded with the step, and the control group
never acted on, also when the action fails half-way and is retried."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.connectors import Work
from orchestrator.errors import ConnectorError
from orchestrator.learning import holdout
from orchestrator.models import Lane, Step, StepStatus
from orchestrator.workspace.catalog import Action, Workspace
from tests.conftest import START, Harness

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


def step(step_id: str = "s3") -> Step:
    return Step(
        id=step_id, outcome_id="o1", workspace="T1", action="send_winback",
        lane=Lane.SYSTEMS, created_at=START,
    )  # fmt: skip


def rows(count: int) -> list[dict[str, Any]]:
    return [{"customer_id": 100 + i, "email": f"c{i}@example.com"} for i in range(count)]


def test_assignment_is_deterministic_and_ignores_order() -> None:
    ids = list(range(1000, 1200))
    treated, control = holdout.assign("T1:o1:s3", ids, 0.10, 4)
    assert len(control) == 20 and len(treated) == 180
    again_treated, again_control = holdout.assign("T1:o1:s3", list(reversed(ids)), 0.10, 4)
    assert set(again_control) == set(control) and set(again_treated) == set(treated)
    _, other = holdout.assign("T1:o1:s4", ids, 0.10, 4)
    assert set(other) != set(control)  # each step draws afresh


def test_control_size_follows_policy() -> None:
    assert holdout.control_size(40, 0.10, 4) == 4
    assert holdout.control_size(20, 0.10, 4) == 4  # at least the minimum
    assert holdout.control_size(7, 0.10, 4) == 0  # too small to hold back 4
    assert holdout.control_size(40, 0.0, 4) == 0


def test_split_removes_the_control_group_and_records_it(workspace: Workspace) -> None:
    action = workspace.actions["send_winback"]
    kept, held = holdout.split(step(), action, workspace, rows(40))
    assert held is not None and held.key == "customer_id" and held.measured
    assert len(kept) == 36 and len(held.control) == 4
    assert not {r["customer_id"] for r in kept} & set(held.control)
    assert holdout.split(step(), action, workspace, rows(40)) == (kept, held)


def test_opting_out_is_labelled_not_measured(workspace: Workspace) -> None:
    action = workspace.actions["send_winback"].model_copy(update={"holdout": 0.0})
    kept, held = holdout.split(step(), action, workspace, rows(40))
    assert len(kept) == 40 and held is not None and not held.measured
    assert held.reason == holdout.OPTED_OUT


def test_lookups_drafts_and_team_posts_hold_nothing_back(workspace: Workspace) -> None:
    for name in ("find_at_risk", "draft_winback", "tell_account_managers"):
        action: Action = workspace.actions[name]
        assert holdout.split(step(), action, workspace, rows(40)) == (rows(40), None)


def outbox(harness: Harness, step_id: str) -> list[int]:
    with closing(sqlite3.connect(harness.business.path)) as db:
        found = db.execute(
            "SELECT customer_id FROM outbox WHERE idempotency_key = ?", (step_id,)
        ).fetchall()
    return [int(r[0]) for r in found]


async def test_control_is_never_messaged_even_across_a_failed_attempt(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    crm = harness.connectors.get("crm")
    real = crm.perform
    attempts: list[int] = []

    async def half_then_fail(work: Work) -> Mapping[str, Any]:
        rows = work.rows
        attempts.append(len(rows))
        if len(attempts) == 1:  # writes half, then the connection drops
            await real(replace(work, rows=rows[: len(rows) // 2]))
            raise ConnectorError("crm", "connection reset", transient=True)
        return await real(work)

    monkeypatch.setattr(crm, "perform", half_then_fail)
    await harness.state("olivia", STATEMENT)
    approval_id = harness.gateway.buttons("approve")[-1]
    step_id = (await harness.store.approval(approval_id)).step_id
    governed = await harness.store.step(step_id)
    assert governed.holdout is not None and len(governed.holdout.control) == 4
    assert set(governed.holdout.pre) == {str(e) for e in governed.holdout.treated} | {
        str(e) for e in governed.holdout.control
    }
    await harness.click("alice", "approve", approval_id)
    harness.clock.advance(timedelta(minutes=10))  # the retry's backoff
    await harness.runtime.drain()
    done = await harness.store.step(step_id)
    assert done.status is StepStatus.SUCCEEDED and attempts == [36, 36]
    assert done.holdout == governed.holdout  # the split survived the retry unchanged
    sent = outbox(harness, step_id)
    assert sorted(sent) == sorted(int(e) for e in governed.holdout.treated)
    assert not set(sent) & {int(e) for e in governed.holdout.control}
    expected = holdout.assign(
        holdout.experiment_id(done),
        [*governed.holdout.treated, *governed.holdout.control],
        0.10,
        4,
    )[1]
    assert set(expected) == set(governed.holdout.control)
