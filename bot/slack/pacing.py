"""Outbound pacing: token buckets by key (a channel, or a workspace for per-workspace tiers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChannelPacer:
    """A token bucket per channel; `wait` returns when one more message may go out.

    Slack allows about one message per second per channel and tolerates short bursts;
    the bucket keeps the long-run rate at `per_second` while letting `burst` go at once.
    """

    def __init__(
        self,
        *,
        per_second: float = 1.0,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, _Bucket] = {}

    async def wait(self, key: str) -> None:
        """Take one token for `key` (a channel, say), sleeping until one is available."""
        bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), self.clock()))
        async with bucket.lock:
            self._refill(bucket)
            if bucket.tokens < 1:
                await self.sleep((1 - bucket.tokens) / self.per_second)
                self._refill(bucket)
            bucket.tokens = max(0.0, bucket.tokens - 1)

    def _refill(self, bucket: _Bucket) -> None:
        now = self.clock()
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.per_second)
        bucket.stamp = now
