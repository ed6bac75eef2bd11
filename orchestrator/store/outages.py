"""The queues of chat channels in an outage (`orchestrator.notify.outages` decides what
they mean): per channel, a sorted set of the deliveries waiting in arrival order, when
each was last seen, the outage's state (since, paged, lost) and an arrivals counter, all
under `Keys.dedupe("outage:<channel>")`, so one channel's keys share a slot. Each
operation is one script (`lua/outage_*.lua`, which declares its KEYS)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from orchestrator.store.keys import Keys
from orchestrator.store.scripts import script_text

TURN_LUA = script_text("outage_turn")
FAILED_LUA = script_text("outage_failed")
RECOVERED_LUA = script_text("outage_recovered")
LEAVE_LUA = script_text("outage_leave")


@dataclass(frozen=True)
class Turn:
    """Whether a delivery may call its channel now, and if not, what it waits behind."""

    may_call: bool
    tell: bool
    """Its success must be told (`OutageQueues.recovered`): it may end an outage."""
    ahead: int = 0
    """Deliveries queued before it (when it may not call)."""
    failing_since: float | None = None
    """When the channel started failing, while it still is (epoch seconds)."""


@dataclass(frozen=True)
class Recovery:
    """What an outage that just ended left: when it began, whether on-call was paged, and
    how many deliveries were given up meanwhile (no outage: `since` is None)."""

    since: float | None
    paged: bool
    lost: int


class OutageQueues:
    """The channels' queues and outage states, shared by every process."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._keys = keys
        self._turn = redis.register_script(TURN_LUA)
        self._failed = redis.register_script(FAILED_LUA)
        self._recovered = redis.register_script(RECOVERED_LUA)
        self._leave = redis.register_script(LEAVE_LUA)

    def keys_of(self, channel: str) -> list[str]:
        """The channel's queue, seen, state and arrivals counter (the scripts' KEYS)."""
        base = self._keys.dedupe(f"outage:{channel}")
        return [f"{base}:queue", f"{base}:seen", base, f"{base}:arrivals"]

    async def turn(self, channel: str, token: str, *, now: float, stale_s: float) -> Turn:
        """Whether `token` may call `channel` at `now`; heads not seen for `stale_s` lose
        their place. A token that may not call keeps (or takes) its place."""
        ahead, state, *since = await self._turn(
            keys=self.keys_of(channel), args=[token, now, stale_s]
        )
        if int(state) < 2:
            return Turn(may_call=True, tell=int(state) == 1)
        failing = float(since[0]) if int(state) == 3 else None
        return Turn(may_call=False, tell=False, ahead=int(ahead), failing_since=failing)

    async def failed(
        self, channel: str, token: str, *, now: float, page_after_s: float, ttl_s: int
    ) -> tuple[float, bool]:
        """A failure of `channel` met by `token` at `now` (which keeps its place): when the
        outage began, and whether on-call is to be paged now (once per outage, when it has
        lasted `page_after_s`); the channel's keys expire in `ttl_s`."""
        since, page = await self._failed(
            keys=self.keys_of(channel), args=[token, now, page_after_s, ttl_s]
        )
        return float(since), bool(int(page))

    async def recovered(self, channel: str) -> Recovery:
        """`channel` answers again: end its outage, if it had one."""
        since, paged, lost = await self._recovered(keys=self.keys_of(channel))
        return Recovery(
            since=float(since) if since else None, paged=bool(paged), lost=int(lost or 0)
        )

    async def leave(self, channel: str, token: str) -> None:
        """`token` gives up its place in `channel`'s queue."""
        await self._leave(keys=self.keys_of(channel), args=[token])
