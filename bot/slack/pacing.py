"""Slack's turns: the shared pacer (`bot.pacing`) with Slack's tiers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from redis.asyncio import Redis

from bot.pacing import ChannelPacer, Sleep

__all__ = ["ChannelPacer", "Sleep", "tier4_pacer"]


def tier4_pacer(
    *,
    sleep: Sleep = asyncio.sleep,
    redis: Redis | None = None,
    prefix: str = "baton",
    clock: Callable[[], float] = time.time,
) -> ChannelPacer:
    """Turns for Slack's Tier 4 methods (100+ calls a minute per workspace): ephemeral
    messages and Home views, which are not channel posts."""
    return ChannelPacer(
        per_second=100 / 60,
        burst=20,
        clock=clock,
        sleep=sleep,
        redis=redis,
        prefix=prefix,
        name="tier4",
    )
