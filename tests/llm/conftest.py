"""Fixtures for the intelligence lane: a harness and a lane around a scripted model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.llm.lane import IntelligenceLane, build_lane
from orchestrator.llm.retry import RetryPolicy
from orchestrator.models import Direction, Outcome, Step
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.runtime.context import Context
from orchestrator.steps.lanes import Lanes
from orchestrator.steps.planner import PlanInput
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import CHANNEL, START, Harness, build_harness
from tests.llm.openai_server import OpenAiDouble, Scripted
from tests.llm.wire import model_for, planner_then_drafter


class Sleeps:
    """An injected sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def plain(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    built = build_harness(redis, keys, workspace, business)
    await built.runtime.start()
    yield built
    await built.connectors.close()


def lane_for(
    harness: Harness,
    model: BaseChatModel,
    *,
    daily_tokens: int = 100_000,
    sleeps: Sleeps | None = None,
) -> IntelligenceLane:
    return build_lane(
        harness.runtime.ctx,
        model,
        daily_tokens=daily_tokens,
        policy=RetryPolicy(retries=2, base_s=0.5, attempt_timeout_s=5),
        sleep=sleeps or Sleeps(),
    )


def churn_outcome(budget: float = 500.0) -> Outcome:
    return Outcome(
        id="o1",
        workspace="T1",
        objective="Cut monthly churn by 2 points by end of Q1",
        metric="churn_rate",
        direction=Direction.DECREASE,
        baseline=8.0,
        target=6.0,
        started_at=START,
        deadline=START + timedelta(days=85),
        owner="olivia",
        approvers=("alice",),
        conversation=CHANNEL,
        budget=budget,
    )


def plan_input(
    workspace: Workspace, outcome: Outcome | None = None, history: Sequence[Step] = ()
) -> PlanInput:
    outcome = outcome or churn_outcome()
    now = START + timedelta(days=3)
    return PlanInput(
        outcome=outcome,
        evaluation=evaluate(outcome, 8.0, now),
        history=list(history),
        workspace=workspace,
        now=now,
    )


@pytest.fixture
async def served(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Callable[..., Any]]:
    """Baton wired to a real OpenAI client against a local double; yields a factory."""
    doubles: list[Any] = []
    built: list[Harness] = []

    async def make(
        plans: list[Scripted], ws: Workspace | None = None
    ) -> tuple[Harness, OpenAiDouble]:
        double = OpenAiDouble(responder=planner_then_drafter(plans))
        serving = double.serving()
        url = await serving.__aenter__()
        doubles.append(serving)

        def wire(ctx: Context) -> dict[str, Any]:
            lane = build_lane(ctx, model_for(url), policy=RetryPolicy(retries=0), sleep=Sleeps())
            return {"planner": lane.planner, "lanes": Lanes(drafter=lane.drafter)}

        harness = build_harness(redis, keys, ws or workspace, business, wiring=wire)
        await harness.runtime.start()
        built.append(harness)
        return harness, double

    yield make
    for harness in built:
        await harness.connectors.close()
    for serving in doubles:
        await serving.__aexit__(None, None, None)
