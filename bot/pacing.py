"""Outbound pacing for every chat platform: turns by key (a channel or conversation, or a
workspace for per-workspace tiers), and the platform's "wait this long" (429 Retry-After)
honoured by the same turns.

Each key has a theoretical arrival time (GCRA): a message takes the next turn, and `burst`
messages may go at once before the long-run rate of `per_second` applies. With Redis the
turns are shared by every process that posts; without it (tests, one-off tools) they are
kept in memory.

A short wait is slept. A longer one, for a call named inside a job, raises `Deferred`: the
worker puts the job back on the timers and is free for other work meanwhile. The turn stays
reserved under the call's stable name, so the job posts in its place when it comes back and
the channel's messages keep their order.

`take_turns` makes a call in its turn; when the platform answers "too many, wait N s", no
one posts to the key for those seconds (a job defers), and the call goes again in the first
turn after the pause, a few times at most.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis

from orchestrator.errors import Deferred, Unavailable
from orchestrator.store.scripts import script_text

log = logging.getLogger("baton.pacing")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Throttled = Callable[[BaseException], "float | None"]
"""The seconds a platform asked to wait, when an error is its "too many requests"."""
RATE_LIMIT_RETRIES = 2
MAX_RETRY_AFTER_S = 30.0
"""A longer wait is better spent back in the job queue than holding a worker."""
MAX_SLEEP_S = 0.25
"""The longest wait slept inside a job; a longer one defers the job."""
HELD_TTL_S = 3_600

TURN_LUA = script_text("pace_turn", "bot")

HOLD_LUA = script_text("pace_hold", "bot")


class ChannelPacer:
    """Turns per key: `wait` returns when one more message may go out (or defers the job)."""

    def __init__(
        self,
        *,
        per_second: float = 1.0,
        burst: int = 5,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        redis: Redis | None = None,
        prefix: str = "baton",
        name: str = "pace",
        platform: str = "slack",
    ) -> None:
        self.interval = 1.0 / per_second
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self.redis = redis
        self.prefix = f"{prefix}:{platform}:{name}"
        self._tat: dict[str, float] = {}
        self._held: dict[str, float] = {}
        self._turn = redis.register_script(TURN_LUA) if redis is not None else None
        self._hold = redis.register_script(HOLD_LUA) if redis is not None else None

    async def wait(self, key: str, member: str | None = None) -> str | None:
        """Take the next turn for `key`: sleep until it if it is near, else defer the job.

        `member` is the call's stable name inside a job (a delivery's call log names its
        calls; `Delivery.next_call` names a job's other calls). Without one (outside a job)
        the wait is slept. Returns the name."""
        wait = await self._take(key, member)
        if wait > MAX_SLEEP_S and member is not None:
            raise Deferred(wait)
        if wait > 0:
            await self.sleep(wait)
        return member

    def _key(self, key: str) -> str:
        """A pace's key: the key in braces, so that a pace and its held calls share one
        slot of a cluster (a script touches both)."""
        return f"{self.prefix}:{{{key}}}"

    async def hold_off(self, key: str, seconds: float, member: str | None = None) -> None:
        """No turns for `key` during the next `seconds`, then one per interval, no burst
        (the platform answered 429 with Retry-After). The refused call `member`, if named, is
        deferred to the first turn after the pause, ahead of the calls that queued meanwhile.
        """
        tat = self.clock() + seconds + (self.burst - 1) * self.interval
        if self._hold is not None:
            await self._hold(keys=[self._key(key)], args=[tat, seconds + self.burst])
        else:
            self._tat[key] = max(self._tat.get(key, 0.0), tat)
        if member is not None:
            raise Deferred(await self._take(key, member))

    async def _take(self, key: str, member: str | None) -> float:
        now = self.clock()
        if self._turn is not None:
            keys = [self._key(key), f"{self._key(key)}:held"]
            args: list[str | float] = [now, self.interval, self.burst, member or ""]
            args += [MAX_SLEEP_S, HELD_TTL_S]
            return float(await self._turn(keys=keys, args=args))
        return self._take_here(key, member, now)

    def _take_here(self, key: str, member: str | None, now: float) -> float:
        """The same reckoning as TURN_LUA, in memory."""
        turn = self._held.pop(f"{key}:{member}", None) if member else None
        if turn is None:
            tat = max(self._tat.get(key, 0.0), now) + self.interval
            self._tat[key] = tat
            turn = max(now, tat - self.burst * self.interval)
        if member and turn > now + MAX_SLEEP_S:
            self._held[f"{key}:{member}"] = turn
        return turn - now


async def take_turns(
    pacer: ChannelPacer,
    key: str,
    name: str | None,
    call: Callable[[], Awaitable[T]],
    *,
    throttled: Throttled,
    channel: str,
    what: str,
) -> T:
    """`call` in `key`'s next turn. An error `throttled` reads a wait from (a 429 with
    Retry-After) pauses the key for that long and the call goes again in the first turn
    after it (inside a job, the job is deferred to then); after a few throttles, or one
    asking for more than `MAX_RETRY_AFTER_S`, `Unavailable` says how long to wait. Every
    other error is raised as it is, for the platform to classify."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        member = await pacer.wait(key, name)
        try:
            return await call()
        except Exception as error:
            wait = throttled(error)
            if wait is None:
                raise
            log.info("%s throttled in %s; next turn after %.1f s", what, channel, wait)
            await pacer.hold_off(key, wait, member)  # inside a job, defers it
            if attempt == RATE_LIMIT_RETRIES or wait > MAX_RETRY_AFTER_S:
                raise Unavailable(channel, f"{what} rate limited", seconds=wait) from error
    raise AssertionError("unreachable")
