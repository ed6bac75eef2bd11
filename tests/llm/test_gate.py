"""The gate and the retry layer: budget, fallback told once, backoff and Retry-After."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from orchestrator.llm.errors import LlmUnavailable
from orchestrator.llm.retry import RetryPolicy, with_retries
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness
from tests.llm.conftest import Sleeps, lane_for, plan_input
from tests.llm.scripted import ScriptedModel, reply, tool_call


@dataclass
class Response:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


class HttpError(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.response = Response(status, headers or {})


class APITimeoutError(Exception):
    """Named like the OpenAI SDK's, which the retry layer recognises by name."""


def failing(*errors: Exception, then: str = "ok"):  # type: ignore[no-untyped-def]
    queue = list(errors)

    async def call() -> str:
        if queue:
            raise queue.pop(0)
        return then

    return call


async def test_429_waits_for_retry_after_then_succeeds() -> None:
    sleeps = Sleeps()
    call = failing(HttpError(429, {"retry-after": "7"}), HttpError(503))
    assert await with_retries(call, RetryPolicy(retries=3, base_s=0.5), sleeps) == "ok"
    retry_after, backoff = sleeps.waits
    assert retry_after == 7.0 and 1.0 <= backoff <= 1.5  # doubled, plus jitter


async def test_timeouts_back_off_and_give_up_after_the_retries() -> None:
    sleeps = Sleeps()
    call = failing(*[APITimeoutError() for _ in range(4)])
    with pytest.raises(LlmUnavailable, match="after 3 attempt"):
        await with_retries(call, RetryPolicy(retries=2, base_s=0.5), sleeps)
    first, second = sleeps.waits
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 1.5


async def test_client_errors_are_not_retried() -> None:
    sleeps = Sleeps()
    with pytest.raises(LlmUnavailable, match="HTTP 401"):
        await with_retries(failing(HttpError(401)), RetryPolicy(), sleeps)
    assert sleeps.waits == []


async def test_retry_after_is_capped() -> None:
    sleeps = Sleeps()
    call = failing(HttpError(429, {"retry-after": "3600"}))
    await with_retries(call, RetryPolicy(max_wait_s=30), sleeps)
    assert sleeps.waits == [30]


async def test_over_budget_falls_back_and_tells_the_owner_once(
    plain: Harness, workspace: Workspace
) -> None:
    model = ScriptedModel(responses=[reply(tool_call("find_at_risk"), tokens=None)])
    lane = lane_for(plain, model, daily_tokens=100)
    first = await lane.planner.propose(plan_input(workspace))
    assert [p.play for p in first] == ["llm"]  # 120 tokens: now over the 100 budget
    for _ in range(3):
        again = await lane.planner.propose(plan_input(workspace))
        assert again[0].play == "win_back"
    await plain.runtime.drain()
    assert len(model.prompts) == 1
    told = [t for t in plain.gateway.titles() if "llm_budget" in t]
    assert len(told) == 1


async def test_unreachable_model_falls_back_and_tells_once_until_it_recovers(
    plain: Harness, workspace: Workspace
) -> None:
    class Down(ScriptedModel):
        down: bool = True

        async def _agenerate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self.down:
                raise HttpError(503)
            return await super()._agenerate(*args, **kwargs)

    model = Down(responses=[reply(tool_call("find_at_risk"))])
    sleeps = Sleeps()
    lane = lane_for(plain, model, sleeps=sleeps)
    for _ in range(2):
        assert (await lane.planner.propose(plan_input(workspace)))[0].play == "win_back"
    model.down = False
    assert (await lane.planner.propose(plan_input(workspace)))[0].play == "llm"
    model.down = True
    await lane.planner.propose(plan_input(workspace))
    await plain.runtime.drain()
    assert len([t for t in plain.gateway.titles() if "llm_unavailable" in t]) == 2
    assert len(sleeps.waits) == 6  # two retries per call, each backoff plus its jitter
    for waited, backoff in zip(sleeps.waits, [0.5, 1.0] * 3, strict=True):
        assert backoff <= waited <= backoff + 0.5
