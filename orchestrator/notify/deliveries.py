"""A delivery's calls to a chat platform, each made once, in order per channel.

A delivery (a notice, the replies to one request) may make several calls: a card, then its
chart; a notice, then the progress message refreshed. When one of them must wait (its paced
turn is far off, the platform is down) the whole job runs again later, from the top. So
every call is remembered under the delivery's name and its place in it: run again, the
delivery replays its calls, and those that went out return what the platform answered
then instead of being made twice (a refusal for good is remembered too, so the delivery
takes the same path again). The call that waited keeps its name, so it also keeps
the paced turn it was given.

A worker killed after the platform took a post but before its answer was remembered leaves
the call "attempted" with no answer. A gateway that can find its own posts (Slack: message
metadata carrying the call's name) gives the call a `find`; run again, the call is first
looked for among the posts made since the attempt, and one found is adopted instead of
posted again.

A gateway asks `current()` for the running delivery's log and makes each call through it;
outside a delivery (a Home refresh, a one-off tool) calls are made as they come.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from redis.exceptions import RedisError

from orchestrator.errors import Deferred, Refused, Unavailable
from orchestrator.notify.outages import ChannelOutages
from orchestrator.store.redis_store import RedisStore

Answer = dict[str, Any]
REFUSED = "refused"
"""Marks a remembered refusal."""
Make = Callable[[str], Awaitable[Answer]]
Find = Callable[[str, float], Awaitable["Answer | None"]]
"""Looks for the post made by call `name` since the given epoch seconds: its answer, or None."""


class CallLog:
    """The calls of one delivery, named `<delivery>:<n>` and remembered in the store
    (`orchestrator.store.call_log`)."""

    def __init__(
        self,
        store: RedisStore,
        delivery: str,
        outages: ChannelOutages | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.records = store.call_records(delivery)
        self.clock = clock
        self.delivery = delivery
        self.outages = outages
        self.calls = 0
        self.channels: set[str] = set()
        """The channels this delivery called (it may hold a place in their queues)."""

    async def call(self, channel: str, make: Make, find: Find | None = None) -> Answer:
        """Make this delivery's next call, to `channel`, unless it was made before: `make`
        gets the call's stable name and returns what to remember of the platform's answer.
        With `find`, a call attempted before without a remembered answer is looked for
        first, and made again only when not found."""
        self.calls += 1
        index = str(self.calls)
        self.channels.add(channel)
        remembered = await self.records.answer(index)
        if remembered is not None:
            return _replayed(channel, remembered)
        tell = await self.outages.take_turn(channel, self.delivery) if self.outages else False
        try:
            answer = await self._made_or_found(index, make, find)
        except Unavailable as down:
            if self.outages is None:
                raise
            raise await self.outages.failed(channel, self.delivery, down) from down
        except Refused as refused:  # remembered too: run again, the delivery takes the same path
            await self._remember(index, {REFUSED: refused.what, "code": refused.code})
            await self._answered(channel, tell)  # a refusal is an answer: the platform is up
            raise
        await self._remember(index, answer)
        await self._answered(channel, tell)
        return answer

    async def _made_or_found(self, index: str, make: Make, find: Find | None) -> Answer:
        name = f"{self.delivery}:{index}"
        if find is None:
            return await make(name)
        before = await self.records.attempted_at(index)
        if before is not None:
            found = await find(name, before)
            if found is not None:
                return found
        else:  # marked before the call: from then on a run again looks first
            await self.records.mark_attempted(index, self.clock())
        try:
            return await make(name)
        except Deferred:  # not made: its turn is later (pacing, or the platform's 429)
            if before is None:
                await self.records.forget_attempt(index)
            raise

    async def _answered(self, channel: str, tell: bool) -> None:
        if tell and self.outages is not None:
            await self.outages.answered(channel)

    async def _remember(self, index: str, answer: Answer) -> None:
        await self.records.remember(index, answer)

    async def finish(self) -> None:
        """The delivery is over (delivered, or refused for good): its places in the
        channels' queues go to the next in line."""
        if self.outages is None:
            return
        for channel in self.channels:
            await self.outages.leave(channel, self.delivery)


def _replayed(channel: str, answer: Answer) -> Answer:
    """A remembered answer as it came: what the platform said, or its refusal, again."""
    if REFUSED in answer:
        raise Refused(channel, str(answer[REFUSED]), code=str(answer.get("code", "")))
    return answer


_CURRENT: ContextVar[CallLog | None] = ContextVar("baton_call_log", default=None)


def current() -> CallLog | None:
    """The running delivery's call log, or None outside a delivery."""
    return _CURRENT.get()


@contextmanager
def _bound(log: CallLog) -> Iterator[None]:
    token = _CURRENT.set(log)
    try:
        yield
    finally:
        _CURRENT.reset(token)


async def delivering(log: CallLog, run: Callable[[], Awaitable[None]]) -> None:
    """Run a delivery with its calls made through `log`. A delivery that waits (its turn,
    an outage) keeps its places in the channels' queues; one that ends, either way, leaves
    them."""
    with _bound(log):
        try:
            await run()
        except (Deferred, Unavailable, RedisError, OSError):
            raise  # it will run again, in its place
        except Exception:
            await log.finish()
            raise
    await log.finish()
