"""The hand-written Lua leader lock Baton had against redis-py's `Lock` (which
orchestrator/runtime/leader.py now uses), on one Redis.

For each: Redis round trips and wall time per renewal (median and p99 of N renewals), and
per acquire; then the same failover drill for both (the holder stops renewing, a standby
polling every third of the TTL takes over), reporting how long the lock had no holder,
and whether a holder that stalled past its TTL could still extend or release the lock a
standby took (it must not).

    python -m bench.leader_lock --redis-url redis://127.0.0.1:6379/15 --renewals 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from bench import target
from orchestrator.runtime.leader import LeaderLock

TTL_MS = 600


class Trips:
    """Counts commands sent to Redis (each send is one round trip without pipelining)."""

    def __init__(self) -> None:
        self.sent = 0
        self._original = Connection.send_packed_command

    def __enter__(self) -> Trips:
        original = self._original

        async def counting(conn: Connection, command: Any, check_health: bool = True) -> None:
            self.sent += 1
            await original(conn, command, check_health)

        Connection.send_packed_command = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Connection.send_packed_command = self._original  # type: ignore[method-assign]


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


class HandWritten:
    """Baton's former lock: SET NX PX, and token-checked Lua to renew and release."""

    def __init__(self, redis: Redis, key: str, owner: str, ttl_ms: int) -> None:
        self.redis, self.key, self.owner, self.ttl_ms = redis, key, owner, ttl_ms
        self._renew = redis.register_script(RENEW_LUA)
        self._release = redis.register_script(RELEASE_LUA)

    async def try_acquire(self) -> bool:
        return bool(await self.redis.set(self.key, self.owner, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        return bool(await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.owner])


Make = Callable[[Redis, str, str], Any]


def hand_written(redis: Redis, key: str, owner: str) -> Any:
    return HandWritten(redis, key, owner, TTL_MS)


def redis_py(redis: Redis, key: str, owner: str) -> Any:
    """Baton's lock as it is (`LeaderLock`: redis-py's `Lock`)."""
    return LeaderLock(redis, key, owner, ttl_ms=TTL_MS)


async def _timed(call: Callable[[], Awaitable[object]], n: int) -> tuple[list[float], float]:
    times = []
    with Trips() as trips:
        for _ in range(n):
            started = time.perf_counter()
            await call()
            times.append(time.perf_counter() - started)
    return times, trips.sent / n


async def measure(redis: Redis, prefix: str, make: Make, renewals: int) -> dict[str, float]:
    holder = make(redis, f"{prefix}:lock", "a")
    await redis.ping()  # the connection is made before counting
    with Trips() as trips:
        assert await holder.try_acquire()
    acquire_trips = trips.sent
    await holder.renew()  # the scripts are loaded before counting
    times, per_renewal = await _timed(holder.renew, renewals)
    await holder.release()
    failover = await _failover(redis, prefix, make)
    stale = await _stale_holder(redis, prefix, make)
    return {
        "acquire_trips": acquire_trips,
        "renew_trips": per_renewal,
        "renew_median_us": statistics.median(times) * 1e6,
        "renew_p99_us": sorted(times)[int(len(times) * 0.99) - 1] * 1e6,
        "failover_gap_ms": failover * 1000,
        "stale_holder_refused": float(stale),
    }


async def _failover(redis: Redis, prefix: str, make: Make) -> float:
    """Seconds from the holder's last renewal to the standby leading."""
    key = f"{prefix}:failover"
    holder, standby = make(redis, key, "a"), make(redis, key, "b")
    assert await holder.try_acquire()
    await holder.renew()
    last = time.perf_counter()  # the holder dies here
    while not await standby.try_acquire():
        await asyncio.sleep(TTL_MS / 3000)
    gap = time.perf_counter() - last
    await standby.release()
    return gap


async def _stale_holder(redis: Redis, prefix: str, make: Make) -> bool:
    """A holder that stalled past its TTL neither extends nor drops the standby's lock."""
    key = f"{prefix}:stale"
    holder, standby = make(redis, key, "a"), make(redis, key, "b")
    assert await holder.try_acquire()
    await asyncio.sleep(TTL_MS / 1000 + 0.1)
    assert await standby.try_acquire()
    renewed = await holder.renew()
    await holder.release()
    kept = await redis.get(key)
    await standby.release()
    return not renewed and kept == b"b"


async def main(url: str, renewals: int) -> None:
    redis = Redis.from_url(url)
    prefix = target.own_prefix("leader_lock")
    try:
        for name, make in (("hand-written", hand_written), ("redis-py Lock", redis_py)):
            figures = await measure(redis, prefix, make, renewals)
            shown = ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
            print(f"{name}: {shown}")
    finally:
        await target.clear(redis, prefix)
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target.add_redis_option(parser)
    parser.add_argument("--renewals", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(target.redis_url(args.redis_url, os.environ), args.renewals))
