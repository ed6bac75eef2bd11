"""A leader lock in Redis: one holder at a time, kept alive by renewing its TTL.

The holder renews well inside the TTL; if it dies, the key expires and a standby takes
over within one TTL. It is redis-py's `Lock` (SET NX PX to take it; token-checked Lua
scripts to renew and release), so a holder that stalled past its TTL can never extend or
drop a lock another process now holds. A hand-written Lua lock served before; measured
against redis-py's with `bench/leader_lock.py`, it was no better (one round trip per
renewal each, the same failover gap and stale-holder refusal), so the kept library won.
The campaign that uses it is `orchestrator.runtime.leader.lead`.
"""

from __future__ import annotations

import contextlib

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError


class LeaderLock:
    """One lock key; `owner` is a token unique to this process."""

    def __init__(self, redis: Redis, key: str, owner: str, *, ttl_ms: int = 5_000) -> None:
        self._redis = redis
        self.key = key
        self.owner = owner
        self.ttl_ms = ttl_ms
        self._lock = Lock(redis, key, timeout=ttl_ms / 1000, blocking=False, thread_local=False)

    async def try_acquire(self) -> bool:
        return bool(await self._lock.acquire(blocking=False, token=self.owner))

    async def renew(self) -> bool:
        """Reset the TTL if still ours; False means leadership is lost."""
        try:
            return bool(await self._lock.reacquire())
        except LockError:  # not ours (any more), or never taken
            return False

    async def release(self) -> None:
        """Drop the lock if still ours (a lock another process took is left alone)."""
        with contextlib.suppress(LockError):
            await self._lock.release()

    async def holder(self) -> str | None:
        raw = await self._redis.get(self.key)
        return raw.decode() if isinstance(raw, bytes) else raw
