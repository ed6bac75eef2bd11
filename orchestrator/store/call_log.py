"""What one delivery's calls got back, remembered (`orchestrator.notify.deliveries` says
why): one hash per delivery under `Keys.dedupe("calls:<delivery>")`, field `<n>` the
n-th call's answer (JSON) and `<n>:attempted` when it was first tried, kept
`REMEMBERED_S` after the last write."""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from orchestrator.store.keys import Keys

REMEMBERED_S = 86_400
"""How long a delivery's calls are remembered: longer than any outage a job is kept through."""
ATTEMPTED = "attempted"
"""Suffix of the field marking a call as attempted: when, its answer not yet remembered."""


class CallRecords:
    """The remembered calls of the delivery named `delivery`."""

    def __init__(self, redis: Redis, keys: Keys, delivery: str) -> None:
        self._redis = redis
        self.key = keys.dedupe(f"calls:{delivery}")

    async def answer(self, index: str) -> dict[str, Any] | None:
        """What call `index` got back, if it was remembered."""
        raw = await self._redis.hget(self.key, index)
        return dict(orjson.loads(raw)) if raw is not None else None

    async def attempted_at(self, index: str) -> float | None:
        """When call `index` was first attempted (epoch seconds), if it was."""
        raw = await self._redis.hget(self.key, f"{index}:{ATTEMPTED}")
        return float(raw) if raw is not None else None

    async def mark_attempted(self, index: str, at: float) -> None:
        """Record that call `index` is being attempted at `at` (the first mark stays)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hsetnx(self.key, f"{index}:{ATTEMPTED}", repr(at))
        pipe.expire(self.key, REMEMBERED_S)
        await pipe.execute()

    async def forget_attempt(self, index: str) -> None:
        """Call `index` was not made after all (its turn is later)."""
        await self._redis.hdel(self.key, f"{index}:{ATTEMPTED}")

    async def remember(self, index: str, answer: dict[str, Any]) -> None:
        """Call `index` got `answer`: a run again replays it instead of calling."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(self.key, index, orjson.dumps(answer))
        pipe.expire(self.key, REMEMBERED_S)
        await pipe.execute()
