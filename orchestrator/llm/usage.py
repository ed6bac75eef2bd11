"""Token usage: a per-workspace daily budget and a running total per outcome, counted in
the store (`orchestrator.store.tokens`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from orchestrator.store.redis_store import RedisStore

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

    async def used_today(self, workspace: str, now: datetime) -> int:
        return await self.store.tokens.used_on(workspace, now.date())

    async def within_budget(self, workspace: str, now: datetime) -> bool:
        """True while the workspace has tokens left today (checked before each call)."""
        return await self.used_today(workspace, now) < self.daily_tokens

    async def record(
        self, usage: Usage, *, workspace: str, outcome_id: str | None, now: datetime
    ) -> None:
        await self.store.tokens.add(
            workspace=workspace,
            day=now.date(),
            outcome_id=outcome_id,
            input=usage.input,
            output=usage.output,
        )

    async def used_by(self, outcome_id: str) -> Usage:
        """All tokens spent on an outcome so far (shown in its status)."""
        return Usage(*await self.store.tokens.used_by(outcome_id))
