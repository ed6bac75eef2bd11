"""The LLM planner is given the evidence library: a step measured against its control
group in one outcome is in the table the model reads when planning the next, through a
real OpenAI client against a local server in the OpenAI wire format."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.llm.prompts import DATA_CLOSE, DATA_OPEN, EVIDENCE_NONE
from orchestrator.models import Effect, Lane, Step, StepStatus
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START, Harness
from tests.llm.conftest import lane_for, plan_input
from tests.llm.openai_server import OpenAiDouble
from tests.llm.wire import STATEMENT, Plan, calls, model_for

pytest.importorskip("langchain_openai")

WIN_BACK: Plan = [("find_at_risk", {}), ("draft_winback", {}), ("send_winback", {})]


def situations(double: OpenAiDouble) -> list[str]:
    """The situation each planning request described (its first user message)."""
    return [
        next(str(m["content"]) for m in r["messages"] if m["role"] == "user")
        for r in double.requests
        if r.get("tools")
    ]


def evidence_rows(situation: str) -> list[dict[str, Any]]:
    table = situation.split("Evidence on churn_rate", 1)[1]
    data = table.split(DATA_OPEN, 1)[1].split(DATA_CLOSE, 1)[0]
    rows: list[dict[str, Any]] = json.loads(data)
    return rows


async def test_the_model_plans_with_the_measured_evidence(served: Callable[..., Any]) -> None:
    harness, double = await served([calls(WIN_BACK)])
    first = await harness.state("olivia", STATEMENT)
    (before,) = situations(double)
    assert EVIDENCE_NONE in before
    approval = harness.gateway.buttons("approve")[-1]
    await harness.click("alice", "approve", approval)
    send = next(s for s in await harness.store.steps(first) if s.action == "send_winback")
    for _ in range(25):
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
        if (await harness.store.step(send.id)).incremental is not None:
            break
    effect = (await harness.store.step(send.id)).incremental
    assert effect is not None and effect.on_metric is not None
    assert effect.metric_low is not None and effect.metric_high is not None
    await harness.state("bob", "Cut monthly churn by 1 point by end of Q2")
    after = situations(double)[-1]
    (row,) = [r for r in evidence_rows(after) if r["segment"] is None]
    per_100 = 100 / effect.treated
    assert row["action"] == "send_winback" and row["params"] == {}
    assert (row["runs"], row["treated"], row["held_back"]) == (1, effect.treated, effect.control)
    assert row["effect_per_100_treated"] == pytest.approx(effect.on_metric * per_100, abs=1e-3)
    assert row["ci95"][0] < row["effect_per_100_treated"] < row["ci95"][1]


def history_lines(situation: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = json.loads(situation.split(DATA_OPEN, 1)[1].split(DATA_CLOSE)[0])
    return lines


async def test_the_history_gives_measured_effects_not_the_trend(
    plain: Harness, workspace: Workspace
) -> None:
    """A measured step's history line is its incremental effect with its interval; an
    unmeasured one's before-and-after change is labelled as such."""
    measured = Effect(
        status="measured",
        treated=36,
        control=4,
        on_metric=-0.42,
        metric_low=-0.61,
        metric_high=-0.23,
    )
    history = [
        Step(
            id="s3",
            outcome_id="o1",
            workspace="T1",
            action="send_winback",
            lane=Lane.SYSTEMS,
            status=StepStatus.SUCCEEDED,
            created_at=START,
            finished_at=START,
            audience=36,
            incremental=measured,
            effect=-1.5,
        ),
        Step(
            id="s4",
            outcome_id="o1",
            workspace="T1",
            action="tell_account_managers",
            lane=Lane.SYSTEMS,
            status=StepStatus.SUCCEEDED,
            created_at=START,
            finished_at=START,
            effect=-0.3,
        ),
    ]
    double = OpenAiDouble(responder=lambda request: calls(WIN_BACK))
    async with double.serving() as url:
        await lane_for(plain, model_for(url)).planner.propose(
            plan_input(workspace, history=history)
        )
    (situation,) = situations(double)
    sent, told = history_lines(situation)
    assert sent["incremental_effect"] == {
        "on_metric": -0.42,
        "ci95": [-0.61, -0.23],
        "treated": 36,
        "held_back": 4,
    }
    assert "before_after_change" not in sent
    assert told["before_after_change"] == -0.3 and "incremental_effect" not in told
