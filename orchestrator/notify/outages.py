"""Channel outages: a chat channel whose platform is failing keeps its messages in order.

While deliveries to a channel fail for a reason that will pass (the platform answers 5xx,
keeps throttling, cannot be reached), the channel has a queue in Redis: every delivery that
failed there, or came after, takes a place in it, first come first served (numbered as
they arrive), and only the
delivery at its head may try the platform. When the head gets through, the channel is
healthy again and the queue drains in order; a head that does not come back (its job was
set aside) loses its place after `STALE_S`.

The first failure starts the outage; once it has lasted `PAGE_AFTER_S`, on-call is paged,
once per outage (one dedup key per channel), and the page is resolved when the channel
answers again.
"""

from __future__ import annotations

import logging
from typing import Literal

from orchestrator.errors import Unavailable
from orchestrator.models import ConversationRef
from orchestrator.notify.incidents import Incident, IncidentKind, dedup_key
from orchestrator.notify.notices import IncidentData, Notice, NoticeKind
from orchestrator.runtime.clock import Clock
from orchestrator.runtime.messages import Notify, Page
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.outages")

PAGE_AFTER_S = 180.0
"""How long a channel fails before on-call is paged: long enough that a blip pages no one."""
STALE_S = 300.0
"""A queued delivery not seen for this long (its job was set aside) gives up its place."""
MAX_WAIT_S = 60.0
"""The longest wait asked for between two tries of a failing channel."""
DRAIN_WAIT_S = 1.0
"""The wait per place ahead, once the channel answers again and its queue drains."""

QUEUE_TTL_S = 7 * 86_400
"""How long an abandoned queue is kept (outlives any outage a job is kept through)."""


class ChannelOutages:
    """Per-channel order and paging while a platform is down, shared by every process."""

    def __init__(self, store: RedisStore, clock: Clock) -> None:
        self.queues = store.outages
        self.clock = clock
        self.queue = store.job_queue()

    async def take_turn(self, channel: str, token: str) -> bool:
        """Return when `token` may call `channel` now: True when its success must be told
        (`answered`: it may end an outage). Raise `Unavailable`, with the wait, while
        deliveries queued before it wait."""
        now = self.clock.now().timestamp()
        turn = await self.queues.turn(channel, token, now=now, stale_s=STALE_S)
        if turn.may_call:
            return turn.tell
        if turn.failing_since is not None:
            wait = _backoff(now - turn.failing_since)
        else:
            wait = DRAIN_WAIT_S * (turn.ahead + 1)
        raise Unavailable(channel, f"waiting behind {turn.ahead} earlier messages", seconds=wait)

    async def failed(self, channel: str, token: str, error: Unavailable) -> Unavailable:
        """Record a failure of `channel` met by `token` (which keeps its place in the queue);
        page on-call once the outage has lasted `PAGE_AFTER_S`. Returns the error to raise,
        with the wait before the next try."""
        now = self.clock.now().timestamp()
        started, page = await self.queues.failed(
            channel, token, now=now, page_after_s=PAGE_AFTER_S, ttl_s=int(QUEUE_TTL_S)
        )
        if page:
            await self._page(channel, started, error.what)
        wait = max(error.seconds or 0.0, _backoff(now - started))
        return Unavailable(channel, error.what, seconds=wait)

    async def answered(self, channel: str) -> None:
        """`channel` took a call: its outage, if it had one, is over (the page resolved).
        Messages given up on meanwhile are owned up to in the channel itself."""
        ended = await self.queues.recovered(channel)
        if ended.since is None:
            return
        lasted = self.clock.now().timestamp() - ended.since
        log.warning("chat channel %s answers again after %.0f s", channel, lasted)
        if ended.paged:
            await self._enqueue_page(channel, "resolve", lasted, "")
        if ended.lost:
            await self._say_lost(channel, ended.lost, lasted)

    async def _say_lost(self, channel: str, lost: int, lasted: float) -> None:
        """Tell the channel that messages meant for it were set aside during the outage (their
        jobs are in the dead letters, and on-call was paged for each)."""
        log.error("chat channel %s: %d messages were given up during its outage", channel, lost)
        where = conversation_of(channel)
        if where is None:
            return
        kind = IncidentKind.CHAT_UNAVAILABLE.value
        what = (
            f"{lost} message(s) for this conversation could not be delivered while the chat "
            f"platform was unavailable ({_minutes(lasted)}) and were set aside; on-call has them."
        )
        notice = Notice(
            kind=NoticeKind.INCIDENT,
            conversation=where,
            text=what,
            data=IncidentData(incident=kind, dedup_key=dedup_key(kind, channel), paged=True),
        )
        await self.queue.enqueue(Notify(notice=notice), workspace=where.workspace)

    async def leave(self, channel: str, token: str) -> None:
        """`token` is done with `channel` (delivered, or refused for good): the next in line
        may go."""
        await self.queues.leave(channel, token)

    async def _page(self, channel: str, started: float, what: str) -> None:
        lasted = self.clock.now().timestamp() - started
        log.error("chat channel %s failing for %.0f s: %s; paging on-call", channel, lasted, what)
        await self._enqueue_page(channel, "trigger", lasted, what)

    async def _enqueue_page(
        self, channel: str, action: Literal["trigger", "resolve"], lasted: float, what: str
    ) -> None:
        kind = IncidentKind.CHAT_UNAVAILABLE.value
        if action == "resolve":
            text = f"{channel} answers again after {_minutes(lasted)}"
        else:
            text = f"messages to {channel} have been failing for {_minutes(lasted)} ({what}); "
            text += "they wait, in order, and go out when it answers"
        incident = Incident(
            kind=kind,
            workspace=_workspace(channel),
            outcome_id=None,
            what=text,
            dedup_key=dedup_key(kind, channel),
            action=action,
            at=self.clock.now(),
            details={"channel": channel},
        )
        await self.queue.enqueue(Page(incident=incident))


def _backoff(failing_for: float) -> float:
    """Try a failing channel again soon at first, then less often: half its age, capped."""
    return min(MAX_WAIT_S, max(1.0, failing_for / 2))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def conversation_of(channel: str) -> ConversationRef | None:
    """The conversation a channel name (`platform:workspace:channel`) stands for."""
    parts = channel.split(":", 2)
    if len(parts) < 3:
        return None
    return ConversationRef(platform=parts[0], workspace=parts[1], channel=parts[2])


def _workspace(channel: str) -> str:
    """Channels are named `platform:workspace:channel`."""
    parts = channel.split(":")
    return parts[1] if len(parts) >= 3 else "-"
