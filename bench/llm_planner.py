"""Planner overhead excluding model time: ms per plan with a zero-latency scripted model.

    python -m bench.llm_planner [--plans 500] [--redis-url redis://127.0.0.1:6390/0]

Uses the server named with `--redis-url` or `BATON_BENCH_REDIS_URL` (never `REDIS_URL`),
writing and deleting only keys under its own prefix; otherwise an embedded Redis in a
temporary directory. Reports the LlmPlanner's time per
plan (prompt building, history and budget reads from Redis, tool schemas, validation,
token accounting) and, separately, the bare langchain call of the scripted model, so the
difference is what Baton adds around a model call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from redis.asyncio import Redis

from bench import target
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from orchestrator.connectors import Connectors
from orchestrator.llm.lane import build_lane
from orchestrator.llm.tools import catalog_tools
from orchestrator.models import ConversationRef, Lane, Outcome, Step, StepStatus
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.runtime.clock import ManualClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.queue import JobQueue
from orchestrator.steps.planner import PlanInput
from orchestrator.store.embedded import EmbeddedRedis
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.fakes import a_step, an_outcome

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


class ZeroLatencyModel(FakeMessagesListChatModel):
    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        return self.bind(tools=list(tools), tool_choice=tool_choice)


def scripted() -> ZeroLatencyModel:
    def call(name: str, params: dict[str, Any]) -> dict[str, Any]:
        args = {"params": params, "rationale": "r", "expected_impact": "e"}
        return {"name": name, "args": args, "id": f"c_{name}", "type": "tool_call"}

    message = AIMessage(
        content="",
        tool_calls=[call("find_at_risk", {}), call("offer_discount", {"percent": 10})],
        usage_metadata={"input_tokens": 900, "output_tokens": 60, "total_tokens": 960},
    )
    return ZeroLatencyModel(responses=[message])


def churn_outcome() -> Outcome:
    """The outcome the LLM benchmarks plan for: the tests' churn outcome (o1 in T1, owned
    by olivia, approved by alice) with a budget, as a bench conversation."""
    return an_outcome(
        objective="Cut churn by 2 points",
        started_at=START,
        deadline=START + timedelta(days=85),
        conversation=ConversationRef(platform="bench", workspace="T1", channel="C1"),
        budget=500.0,
    )


def plan_input(outcome: Outcome, history: list[Step]) -> PlanInput:
    workspace = load_workspace(DEMO_WORKSPACE)
    now = START + timedelta(days=10)
    return PlanInput(outcome, evaluate(outcome, 7.9, now), history, workspace, now)


def history_of(count: int) -> list[Step]:
    """`count` finished lookups of the churn outcome, each with a measured effect."""
    done = a_step(StepStatus.SUCCEEDED)
    found = {"action": "find_at_risk", "lane": Lane.LOGIC, "effect": -0.1}
    return [done.model_copy(update={"id": f"s{i}", **found}) for i in range(count)]


async def run(plans: int, redis: Redis) -> None:
    keys = Keys(target.own_prefix("planner"))
    workspace = load_workspace(DEMO_WORKSPACE)
    ctx = Context(
        store=RedisStore(redis, keys),
        queue=JobQueue(redis, keys),
        clock=ManualClock(START),
        workspace_of=lambda tenant: workspace,
        connectors_of=lambda tenant: Connectors(workspace, {}),
    )
    model = scripted()
    lane = build_lane(ctx, model, daily_tokens=10**12)
    given = plan_input(churn_outcome(), history_of(20))
    bare = model.bind_tools(catalog_tools(workspace.actions))
    await lane.planner.propose(given)  # warm caches
    planner_ms = [await _timed(lane.planner.propose(given)) for _ in range(plans)]
    model_ms = [await _timed(bare.ainvoke("plan")) for _ in range(plans)]
    await target.clear(redis, keys.prefix)
    p50, model_p50 = statistics.median(planner_ms), statistics.median(model_ms)
    print(f"plans: {plans}, history: 20 steps, catalog: {len(workspace.actions)} actions")
    print(f"LlmPlanner.propose  p50 {p50:.3f} ms  p95 {_p95(planner_ms):.3f} ms")
    print(f"bare model call     p50 {model_p50:.3f} ms  p95 {_p95(model_ms):.3f} ms")
    print(f"overhead (p50 difference): {p50 - model_p50:.3f} ms per plan")


async def _timed(work: Any) -> float:
    started = time.perf_counter()
    await work
    return (time.perf_counter() - started) * 1000


def _p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95) - 1]


async def main(plans: int, url: str | None) -> None:
    if url:
        redis = Redis.from_url(url)
        await run(plans, redis)
        await redis.aclose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedRedis(Path(tmp))
        redis = Redis.from_url(await embedded.start())
        await run(plans, redis)
        await redis.aclose()
        await embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=500)
    target.add_redis_option(parser, required=False)
    args = parser.parse_args()
    asyncio.run(main(args.plans, target.optional_redis_url(args.redis_url, os.environ)))
