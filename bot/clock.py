"""Wiring of the clock process from a bootstrapped `App`."""

from __future__ import annotations

from bot.bootstrap import App
from orchestrator.runtime.queue import consumer_name
from orchestrator.runtime.scheduler import ClockService
from orchestrator.store.leader_lock import LeaderLock


def build_clock(baton: App) -> ClockService:
    """A clock campaigning for the workspace-wide leader lock under the key prefix."""
    ctx = baton.runtime.ctx
    settings = baton.settings
    lock = LeaderLock(
        baton.redis,
        ctx.keys.lease("clock"),
        consumer_name("clock"),
        ttl_ms=int(settings.leader_ttl_s * 1000),
    )
    return ClockService(ctx.store, ctx.queue, ctx.clock, lock, every_s=settings.clock_every_s)
