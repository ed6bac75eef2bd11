"""Tokens sent per model call, counted as Baton counts them when a provider reports no usage
(4 characters a token over everything sent: messages and tool schemas), on the demo
workspace with a scripted model:

    python -m bench.llm_tokens [--redis-url redis://127.0.0.1:6390/0]

One plan with an empty history, one plan with 20 steps of history, one draft for 40
customers, one understood statement. Uses the server named with `--redis-url` or
`BATON_BENCH_REDIS_URL` (never `REDIS_URL`), under its own prefix; otherwise an embedded
Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from redis.asyncio import Redis

from bench import target
from bench.llm_planner import START, ZeroLatencyModel, churn_outcome, history_of, plan_input
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from orchestrator.connectors import Connectors
from orchestrator.llm.gate import Answer, Caller, sent_chars
from orchestrator.llm.interpreter import TOOL
from orchestrator.llm.lane import build_lane
from orchestrator.models import Lane
from orchestrator.outcomes.parser import parse
from orchestrator.runtime.clock import ManualClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.queue import JobQueue
from orchestrator.steps.lanes import LaneInput
from orchestrator.store.embedded import EmbeddedRedis
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.fakes import a_step

STATEMENT = "Get churn under control by the end of March"


def answers() -> list[AIMessage]:
    def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "args": args, "id": f"c_{name}", "type": "tool_call"}

    why = {"rationale": "r", "expected_impact": "e"}
    plan = AIMessage(content="", tool_calls=[call("find_at_risk", why)])
    draft = AIMessage(content="Subject: We miss you\nHello")
    reading = {"metric": "churn_rate", "direction": "decrease", "change": None, "amount": None}
    understood = AIMessage(content="", tool_calls=[call(TOOL, {**reading, "deadline": None})])
    return [plan, plan, draft, understood]


async def run(redis: Redis) -> None:
    keys = Keys(target.own_prefix("tokens"))
    workspace = load_workspace(DEMO_WORKSPACE)
    connectors = Connectors(workspace, {})
    ctx = Context(
        store=RedisStore(redis, keys),
        queue=JobQueue(redis, keys),
        clock=ManualClock(START),
        workspace_of=lambda tenant: workspace,
        connectors_of=lambda tenant: connectors,
    )
    lane = build_lane(ctx, ZeroLatencyModel(responses=answers()), daily_tokens=10**12)
    sent: list[int] = []
    answer = lane.gate.answer

    async def counted(messages: Sequence[BaseMessage], *, caller: Caller, **kwargs: Any) -> Answer:
        sent.append(sent_chars(messages, kwargs.get("tools", ())) // 4 + 1)
        return await answer(messages, caller=caller, **kwargs)

    lane.gate.answer = counted  # type: ignore[method-assign]
    await lane.planner.propose(plan_input(churn_outcome(), []))
    await lane.planner.propose(plan_input(churn_outcome(), history_of(20)))
    rows = [{"id": n, "email": f"c{n}@example.com", "name": f"Customer {n}"} for n in range(40)]
    step = a_step().model_copy(
        update={"id": "s2", "action": "draft_winback", "lane": Lane.INTELLIGENCE}
    )
    action = workspace.actions["draft_winback"]
    given = LaneInput(step, action, churn_outcome(), workspace, {"rows": rows}, connectors, False)
    await lane.drafter.draft(given)
    draft = parse(STATEMENT, workspace, START)
    await lane.interpreter.interpret(text=STATEMENT, draft=draft, workspace=workspace, now=START)
    await target.clear(redis, keys.prefix)
    names = ["plan (empty history)", "plan (20 steps of history)", "draft (40 customers)"]
    for name, tokens in zip([*names, "understood statement"], sent, strict=True):
        print(f"{name:30} {tokens:6,} tokens sent")


async def main(url: str | None) -> None:
    if url:
        redis = Redis.from_url(url)
        await run(redis)
        await redis.aclose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedRedis(Path(tmp))
        redis = Redis.from_url(await embedded.start())
        await run(redis)
        await redis.aclose()
        await embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target.add_redis_option(parser, required=False)
    args = parser.parse_args()
    asyncio.run(main(target.optional_redis_url(args.redis_url, os.environ)))
