"""Whether Redis takes writes now: full (`maxmemory` reached under `noeviction`) or gone.

When Redis refuses writes, nothing Baton does can be recorded, paging included: the usual
page goes through a job, which is a write. So this process tells on-call itself, straight
through the pager's HTTP connection, and remembers in memory that it did (once per episode;
the dedup key makes several processes one incident). Readiness and the web door read the
state from here. It is found out by a tiny write (SET with a short expiry under the key
prefix; on a cluster, one on every primary): on every `/readyz`, and after a request met a
refusal; while a problem is known it is looked at again at most every second, so work
resumes by itself as soon as memory is freed, and the page is resolved then. A healthy
request path makes no probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.notify.incidents import Incident, dedup_key
from orchestrator.notify.paging import Pager
from orchestrator.store.client import fullest_memory, redis_full, write_probe

log = logging.getLogger("baton.capacity")

REDIS_FULL = "redis_full"
"""The incident's kind; its section of RUNBOOK.md is `#redis-full`."""
PROBE_TTL_MS = 10_000
PAGE_RETRY_S = 30.0
"""After a page that failed, the next try waits this long (the pager may be down too)."""


def is_full(error: BaseException) -> bool:
    """Redis refused a write because it is at `maxmemory` (a command, a script or EXEC)."""
    return redis_full(error)


def is_gone(error: BaseException) -> bool:
    """Redis did not answer (down, restarting, unreachable)."""
    return isinstance(error, RedisConnectionError | RedisTimeoutError | OSError)


class RedisCapacity:
    """This process's view of whether Redis takes new work, and its page about it."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        pager: Pager,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.redis = redis
        """A client of its own that fails fast (`probe_client`): a probe must not wait out
        the retries that let a request ride out a restart."""
        self.prefix = prefix
        self.pager = pager
        self.problem: str | None = None
        """Why Redis takes no new work now; None when it does."""
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._checked_at: float | None = None
        self._probing: asyncio.Lock | None = None
        self._paged = False
        self._retry_at = 0.0
        self._pages: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        await self.redis.aclose()

    async def current(self, max_age_s: float = 1.0) -> str | None:
        """The problem, from a probe no older than `max_age_s` (0: probe now)."""
        if self._fresh(max_age_s):
            return self.problem
        if self._probing is None:
            self._probing = asyncio.Lock()
        async with self._probing:  # concurrent requests share one probe
            if not self._fresh(max_age_s):
                await self._note(await self._probe())
        return self.problem

    async def known(self, max_age_s: float = 1.0) -> str | None:
        """The problem already found, looked at again when older than `max_age_s`; None,
        without a probe, while none is known: a healthy request path writes nothing."""
        if self.problem is None:
            return None
        return await self.current(max_age_s)

    async def saw(self, error: BaseException) -> str | None:
        """A request met `error` from Redis: look again now (it may have been one blip)."""
        log.warning("Redis refused a request: %s", error)
        return await self.current(max_age_s=0)

    def _fresh(self, max_age_s: float) -> bool:
        return self._checked_at is not None and self._clock() - self._checked_at <= max_age_s

    async def _probe(self) -> tuple[str | None, bool]:
        """(the problem or None, whether it is a full Redis)."""
        try:
            await write_probe(self.redis, f"{self.prefix}:capacity:probe", PROBE_TTL_MS)
        except RedisClusterException as error:  # no primary reachable, a slot not served
            return f"redis cluster unavailable: {error}", False
        except RedisError as error:
            if is_full(error):
                return await self._full_reason(), True
            if is_gone(error):
                return f"redis unavailable: {error}", False
            return f"redis refuses writes: {error}", False
        except OSError as error:
            return f"redis unavailable: {error}", False
        return None, False

    async def _full_reason(self) -> str:
        try:
            memory = await fullest_memory(self.redis)
            used, limit = memory.get("used_memory_human"), memory.get("maxmemory_human")
            policy = memory.get("maxmemory_policy")
            figures = f" (used {used} of maxmemory {limit}, policy {policy})"
        except RedisError:
            figures = ""
        return (
            f"redis is out of memory{figures}: Baton cannot take new work until memory is "
            "freed or maxmemory raised"
        )

    async def _note(self, found: tuple[str | None, bool]) -> None:
        problem, full = found
        self._checked_at = self._clock()
        if problem and not self.problem:
            log.error("Baton cannot take new work: %s", problem)
        elif self.problem and not problem:
            log.warning("Redis takes writes again; Baton takes new work")
        self.problem = problem
        if full and not self._paged and self._checked_at >= self._retry_at:
            self._paged = True
            self._page("trigger", problem or "")
        elif not problem and self._paged:
            self._paged = False
            self._page("resolve", "Redis takes writes again")

    def _page(self, action: str, what: str) -> None:
        """Page beside the request that found it: a slow pager must not hold the answer."""
        incident = Incident(
            kind=REDIS_FULL,
            workspace=self.prefix,
            outcome_id=None,
            what=what,
            dedup_key=dedup_key(REDIS_FULL, self.prefix),
            action="trigger" if action == "trigger" else "resolve",
            at=datetime.now(UTC),
        )
        task = asyncio.ensure_future(self._send(incident))
        self._pages.add(task)
        task.add_done_callback(self._pages.discard)

    async def _send(self, incident: Incident) -> None:
        try:
            await self.pager.page(incident)
        except Exception as error:  # noqa: BLE001 - a failed page is logged, never raised
            log.error("could not page on-call (%s): %s", incident.kind, error)
            if incident.action == "trigger":  # try again later, if it is still full
                self._paged = False
                self._retry_at = self._clock() + PAGE_RETRY_S
