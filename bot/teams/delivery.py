"""Outbound discipline for Teams: pace each conversation with the pacer Slack uses
(`bot.pacing`), honour a 429's Retry-After through it as Slack's are, and retry other
throttling and gateway errors with a short backoff. What still fails is told apart: an
outage (throttled beyond that, 5xx, no connection) raises `Unavailable`, so the job waits
for as long as it lasts; a refusal for good (a 4xx: the card too big or malformed, the bot
removed) raises `TeamsDeliveryError`, a `Refused`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from msrest.exceptions import ClientRequestError, HttpOperationError
from redis.asyncio import Redis

from bot.pacing import ChannelPacer
from orchestrator.errors import Refused, Unavailable

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Now = Callable[[], float]

RETRY_STATUSES = frozenset({412, 429, 502, 504})
MESSAGES_PER_SECOND = 7
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
UNSHOWABLE = frozenset({"400", "413"})
"""Refusals of a message's content: the same words as plain text may still be shown."""
NETWORK_ERRORS = (ClientRequestError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


class TeamsDeliveryError(Refused):
    """The Bot Framework connector refused a message for good."""

    def __init__(self, conversation: str, status: int | None) -> None:
        super().__init__(conversation, f"delivery to Teams refused ({status})", code=str(status))
        self.conversation = conversation
        self.status = status


class Pacer(ChannelPacer):
    """Turns per conversation: `rate` messages a second (as many at once), counted in Redis
    so every process sending to Teams shares them."""

    def __init__(
        self,
        redis: Redis | None,
        prefix: str,
        *,
        rate: int = MESSAGES_PER_SECOND,
        now: Now = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(
            per_second=rate,
            burst=rate,
            clock=now,
            sleep=sleep,
            redis=redis,
            prefix=prefix,
            platform="teams",
        )


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


def told_to_wait(error: BaseException) -> float | None:
    """The seconds Teams asked to wait (429 with Retry-After), else None."""
    if not isinstance(error, HttpOperationError) or status_of(error) != 429:
        return None
    return retry_after(error)


def transient(status: int | None) -> bool:
    """Whether Teams answered for its own trouble (the same call may succeed later)."""
    return status is None or status in RETRY_STATUSES or status >= 500


async def with_retries(
    channel: str, call: Callable[[], Awaitable[T]], *, sleep: Sleep = asyncio.sleep
) -> T:
    """Run `call`, retrying the statuses Teams uses for throttling and transient failures a
    few times; an outage that outlasts them raises `Unavailable`, a refusal for good
    `TeamsDeliveryError`. A 429 that says how long to wait is raised as it is: the
    conversation's turns wait it out (`bot.pacing.take_turns`)."""
    for attempt in range(len(BACKOFF_S) + 1):
        try:
            return await call()
        except HttpOperationError as error:
            if told_to_wait(error) is not None:
                raise
            status = status_of(error)
            if not transient(status):
                raise TeamsDeliveryError(channel, status) from error
            if status not in RETRY_STATUSES or attempt == len(BACKOFF_S):
                raise Unavailable(channel, f"Teams answered {status}") from error
            await sleep(BACKOFF_S[attempt])
        except NETWORK_ERRORS as error:
            raise Unavailable(channel, f"Teams unreachable: {type(error).__name__}") from error
    raise AssertionError("unreachable")
