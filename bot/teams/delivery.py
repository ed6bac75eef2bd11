"""Outbound discipline for Teams: pace each conversation and retry throttling and gateway
errors with backoff; a delivery that still fails raises so the job queue retries it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from msrest.exceptions import HttpOperationError
from redis.asyncio import Redis

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Now = Callable[[], float]

RETRY_STATUSES = frozenset({412, 429, 502, 504})
MESSAGES_PER_SECOND = 7
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)


class TeamsDeliveryError(Exception):
    """The Bot Framework connector kept refusing a message."""

    def __init__(self, conversation: str, status: int | None) -> None:
        super().__init__(f"delivery to Teams conversation {conversation} failed ({status})")
        self.conversation = conversation
        self.status = status


class Pacer:
    """At most `rate` messages per second per conversation, counted in Redis so every
    process sending to Teams shares the budget."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        rate: int = MESSAGES_PER_SECOND,
        now: Now = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.redis, self.prefix, self.rate = redis, prefix, rate
        self.now, self.sleep = now, sleep

    async def wait_turn(self, conversation: str) -> None:
        """Return once this conversation may take one more message in the current second."""
        while True:
            second = int(self.now())
            key = f"{self.prefix}:teams:pace:{conversation}:{second}"
            count = await self.redis.incr(key)
            if count == 1:
                await self.redis.expire(key, 2)
            if count <= self.rate:
                return
            await self.sleep(second + 1 - self.now())


def status_of(error: HttpOperationError) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


async def with_retries(
    conversation: str, call: Callable[[], Awaitable[T]], *, sleep: Sleep = asyncio.sleep
) -> T:
    """Run `call`, retrying the statuses Teams uses for throttling and transient failures."""
    for attempt in range(len(BACKOFF_S) + 1):
        try:
            return await call()
        except HttpOperationError as error:
            status = status_of(error)
            if status not in RETRY_STATUSES or attempt == len(BACKOFF_S):
                raise TeamsDeliveryError(conversation, status) from error
            await sleep(BACKOFF_S[attempt])
    raise AssertionError("unreachable")
