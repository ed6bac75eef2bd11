"""Outbound discipline for Teams: pace each conversation and retry throttling and gateway
errors with a short backoff. What still fails is told apart: an outage (throttled beyond
that, 5xx, no connection) raises `Unavailable`, so the job waits for as long as it lasts; a
refusal for good (a 4xx: the card too big or malformed, the bot removed) raises
`TeamsDeliveryError`, a `Refused`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from msrest.exceptions import ClientRequestError, HttpOperationError
from redis.asyncio import Redis
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from orchestrator.errors import Refused, Unavailable

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Now = Callable[[], float]

RETRY_STATUSES = frozenset({412, 429, 502, 504})
MESSAGES_PER_SECOND = 7
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
JITTER_S = 0.25
"""Up to this much is added to each backoff, so senders throttled together spread out."""
UNSHOWABLE = frozenset({"400", "413"})
"""Refusals of a message's content: the same words as plain text may still be shown."""
NETWORK_ERRORS = (ClientRequestError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


class TeamsDeliveryError(Refused):
    """The Bot Framework connector refused a message for good."""

    def __init__(self, conversation: str, status: int | None) -> None:
        super().__init__(conversation, f"delivery to Teams refused ({status})", code=str(status))
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


def retry_after(error: HttpOperationError) -> float | None:
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def transient(status: int | None) -> bool:
    """Whether Teams answered for its own trouble (the same call may succeed later)."""
    return status is None or status in RETRY_STATUSES or status >= 500


async def with_retries(
    channel: str, call: Callable[[], Awaitable[T]], *, sleep: Sleep = asyncio.sleep
) -> T:
    """Run `call`, retrying the statuses Teams uses for throttling and transient failures a
    few times (tenacity, `BACKOFF_S` plus up to `JITTER_S`); an outage that outlasts them
    raises `Unavailable`, a refusal for good `TeamsDeliveryError`."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(len(BACKOFF_S) + 1),
        retry=retry_if_exception(_throttled),
        wait=wait_exponential(multiplier=BACKOFF_S[0], max=BACKOFF_S[-1])
        + wait_random(0, JITTER_S),
        sleep=sleep,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                return await call()
    except HttpOperationError as error:
        status = status_of(error)
        if not transient(status):
            raise TeamsDeliveryError(channel, status) from error
        wait = retry_after(error)
        raise Unavailable(channel, f"Teams answered {status}", seconds=wait) from error
    except NETWORK_ERRORS as error:
        raise Unavailable(channel, f"Teams unreachable: {type(error).__name__}") from error
    raise AssertionError("unreachable: tenacity returns or re-raises")


def _throttled(error: BaseException) -> bool:
    return isinstance(error, HttpOperationError) and status_of(error) in RETRY_STATUSES
