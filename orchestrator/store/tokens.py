"""Model tokens counted in Redis (`orchestrator.llm.usage` keeps the budget): per workspace
and day a counter (`Keys.flag("llm:tokens:<workspace>:<day>")`, kept `DAY_TTL_S`), per
outcome a hash of input, output and calls (`Keys.flag("llm:usage:<outcome>")`), each in
its workspace's slot, with the model counters of `/metrics` in the same transaction."""

from __future__ import annotations

from datetime import date

from redis.asyncio import Redis

from orchestrator.store import counters
from orchestrator.store.keys import Keys

DAY_TTL_S = 3 * 86_400


class TokenCounts:
    """Tokens spent, per workspace and day and per outcome."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def _day_key(self, workspace: str, day: date) -> str:
        keys = self._keys
        return keys.flag(f"llm:tokens:{workspace}:{day.isoformat()}", keys.tag(workspace))

    def _outcome_key(self, outcome_id: str) -> str:
        return self._keys.flag(f"llm:usage:{outcome_id}", self._keys.tag_of(outcome_id))

    async def used_on(self, workspace: str, day: date) -> int:
        """Tokens `workspace` spent on `day`."""
        return int(await self._redis.get(self._day_key(workspace, day)) or 0)

    async def add(
        self, *, workspace: str, day: date, outcome_id: str | None, input: int, output: int
    ) -> None:
        """Count one model call's tokens for `workspace` on `day`, for the outcome (if any)
        and for `/metrics`, in one transaction."""
        pipe = self._redis.pipeline(transaction=True)
        key = self._day_key(workspace, day)
        pipe.incrby(key, input + output)
        pipe.expire(key, DAY_TTL_S)
        if outcome_id is not None:
            pipe.hincrby(self._outcome_key(outcome_id), "input", input)
            pipe.hincrby(self._outcome_key(outcome_id), "output", output)
            pipe.hincrby(self._outcome_key(outcome_id), "calls", 1)
        metrics = self._keys.counters(self._keys.tag(workspace))
        pipe.hincrby(metrics, counters.LLM_CALLS, 1)
        pipe.hincrby(metrics, counters.field(counters.LLM_TOKENS, "input"), input)
        pipe.hincrby(metrics, counters.field(counters.LLM_TOKENS, "output"), output)
        await pipe.execute()

    async def used_by(self, outcome_id: str) -> tuple[int, int]:
        """The input and output tokens spent on an outcome so far."""
        raw = await self._redis.hmget(self._outcome_key(outcome_id), ["input", "output"])
        return int(raw[0] or 0), int(raw[1] or 0)
