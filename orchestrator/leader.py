"""A leader lock in Redis: one holder at a time, kept alive by renewing its TTL.

The holder renews well inside the TTL; if it dies, the key expires and a standby takes
over within one TTL. Renewal and release check the owner token, so a holder that
stalled past its TTL can never extend or drop a lock another process now holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("baton.leader")

RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LeaderLock:
    """One lock key; `owner` is a token unique to this process."""

    def __init__(self, redis: Redis, key: str, owner: str, *, ttl_ms: int = 5_000) -> None:
        self.redis = redis
        self.key = key
        self.owner = owner
        self.ttl_ms = ttl_ms
        self._renew = redis.register_script(RENEW_LUA)
        self._release = redis.register_script(RELEASE_LUA)

    async def try_acquire(self) -> bool:
        return bool(await self.redis.set(self.key, self.owner, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        """Extend the TTL if still ours; False means leadership is lost."""
        return bool(await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.owner])

    async def holder(self) -> str | None:
        raw = await self.redis.get(self.key)
        return raw.decode() if isinstance(raw, bytes) else raw


async def lead(
    lock: LeaderLock,
    stop: asyncio.Event,
    on_elected: asyncio.Event,
    on_deposed: asyncio.Event,
) -> None:
    """Campaign until `stop`: set `on_elected` while leading, `on_deposed` on losing it.

    Redis errors (a restart, a network blip) count as "not leading" and are retried, so
    a clock survives a Redis restart without exiting.
    """
    period = lock.ttl_ms / 3000
    leading = False
    while not stop.is_set():
        try:
            leading = await (lock.renew() if leading else lock.try_acquire())
        except (RedisError, OSError) as error:
            log.warning("leader lock unavailable: %s", error)
            leading = False
        if leading and not on_elected.is_set():
            on_deposed.clear()
            on_elected.set()
        elif not leading and on_elected.is_set():
            on_elected.clear()
            on_deposed.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)
    if leading:
        with contextlib.suppress(RedisError, OSError):
            await lock.release()
