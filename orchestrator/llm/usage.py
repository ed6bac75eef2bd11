"""Token usage: a per-workspace daily budget and a running total per outcome, in Redis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from orchestrator.store import counters
from orchestrator.store.redis_store import RedisStore

DAY_TTL_S = 3 * 86_400
DEFAULT_DAILY_TOKENS = 500_000


@dataclass(frozen=True)
class Usage:
    """Tokens one model call used."""

    input: int
    output: int

    @property
    def total(self) -> int:
        return self.input + self.output


def usage_from(metadata: Mapping[str, object] | None, prompt_chars: int, reply_chars: int) -> Usage:
    """The provider's count, or an estimate (4 characters a token) when it reports none,
    so that a provider without usage data cannot spend past the budget unseen."""
    if metadata:
        given_in, given_out = metadata.get("input_tokens"), metadata.get("output_tokens")
        if isinstance(given_in, int) and isinstance(given_out, int):
            return Usage(given_in, given_out)
    return Usage(prompt_chars // 4 + 1, reply_chars // 4 + 1)


class TokenLedger:
    """Counts tokens per workspace per day (for the budget) and per outcome (for status)."""

    def __init__(self, store: RedisStore, daily_tokens: int = DEFAULT_DAILY_TOKENS) -> None:
        self.store = store
        self.daily_tokens = daily_tokens

    def _day_key(self, workspace: str, now: datetime) -> str:
        keys = self.store.keys
        return keys.flag(f"llm:tokens:{workspace}:{now.date().isoformat()}", keys.tag(workspace))

    def _outcome_key(self, outcome_id: str) -> str:
        keys = self.store.keys
        return keys.flag(f"llm:usage:{outcome_id}", keys.tag_of(outcome_id))

    async def used_today(self, workspace: str, now: datetime) -> int:
        return int(await self.store.redis.get(self._day_key(workspace, now)) or 0)

    async def within_budget(self, workspace: str, now: datetime) -> bool:
        """True while the workspace has tokens left today (checked before each call)."""
        return await self.used_today(workspace, now) < self.daily_tokens

    async def record(
        self, usage: Usage, *, workspace: str, outcome_id: str | None, now: datetime
    ) -> None:
        pipe = self.store.redis.pipeline(transaction=True)
        day = self._day_key(workspace, now)
        pipe.incrby(day, usage.total)
        pipe.expire(day, DAY_TTL_S)
        if outcome_id is not None:
            pipe.hincrby(self._outcome_key(outcome_id), "input", usage.input)
            pipe.hincrby(self._outcome_key(outcome_id), "output", usage.output)
            pipe.hincrby(self._outcome_key(outcome_id), "calls", 1)
        metrics = self.store.keys.counters(self.store.keys.tag(workspace))
        pipe.hincrby(metrics, counters.LLM_CALLS, 1)
        pipe.hincrby(metrics, counters.field(counters.LLM_TOKENS, "input"), usage.input)
        pipe.hincrby(metrics, counters.field(counters.LLM_TOKENS, "output"), usage.output)
        await pipe.execute()

    async def used_by(self, outcome_id: str) -> Usage:
        """All tokens spent on an outcome so far (shown in its status)."""
        raw = await self.store.redis.hgetall(self._outcome_key(outcome_id))
        values = {_text(k): int(v) for k, v in raw.items()}
        return Usage(values.get("input", 0), values.get("output", 0))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
