"""The clock's campaign for leadership: one process leads at a time, through the store's
leader lock (`orchestrator.store.leader_lock.LeaderLock`), and a Redis restart or a
network blip costs leadership for a while, never the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from orchestrator.store.leader_lock import LeaderLock

log = logging.getLogger("baton.leader")


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
