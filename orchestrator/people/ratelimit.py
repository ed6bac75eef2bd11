"""Per-person rate limits on what people send (a fixed window, counted in the store).

One member cannot flood the orchestrator: every message (a command, a statement, an
answer to a question) counts against `rate_limit` of the workspace file, per workspace
and person. Clicks are not counted: a decision must never be dropped (see SECURITY.md).
"""

from __future__ import annotations

from enum import Enum

from orchestrator.runtime.clock import Clock
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import RateLimit


class Verdict(Enum):
    ALLOWED = "allowed"
    LIMITED = "limited"
    """Over the limit, and the first time in this window: say so once."""
    DROPPED = "dropped"
    """Over the limit again in the same window: said already, drop quietly."""


class RateLimiter:
    """Counts each person's messages per window; the count and its expiry are one step."""

    def __init__(self, store: RedisStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def hit(self, workspace: str, user: str, limit: RateLimit) -> Verdict:
        """Count one message from `user`; whether it may go on."""
        window = int(self.clock.now().timestamp()) // limit.window_s
        # Kept a little longer than its window so a slow clock never reuses a count.
        count = await self.store.count_message(workspace, user, window, ttl_s=limit.window_s + 5)
        if count <= limit.messages:
            return Verdict.ALLOWED
        return Verdict.LIMITED if count == limit.messages + 1 else Verdict.DROPPED
