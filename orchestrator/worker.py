"""The worker: reads jobs from the stream and dispatches them through a registry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator import logcontext
from orchestrator.clock import Clock
from orchestrator.errors import Deferred, NotFound
from orchestrator.jobs import Job, JobQueue, delivering

log = logging.getLogger("baton.worker")

JobHandler = Callable[[Job], Awaitable[None]]
DeadLetterHook = Callable[[Job, str], Awaitable[None]]


class Worker:
    """Runs jobs; a failing job is retried with backoff, then dead-lettered."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: dict[str, JobHandler],
        *,
        clock: Clock,
        name: str = "worker",
        max_attempts: int = 5,
        visibility_ms: int = 30_000,
        on_dead_letter: DeadLetterHook | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.clock = clock
        self.name = name
        self.max_attempts = max_attempts
        """Failures (raised, or the worker dying mid-job) before a job is dead-lettered."""
        self.visibility_ms = visibility_ms
        self.on_dead_letter = on_dead_letter
        self.processed = 0
        self._next_look_back = 0.0
        self.grace_s = 10.0
        """How long a stopping worker lets the current job finish before releasing it."""

    async def run_once(self, block_ms: int | None = None, count: int = 10) -> int:
        """Handle what is waiting (and what crashed workers left); returns how many."""
        jobs = await self._next(count, block_ms)
        for job in jobs:
            await self.handle(job)
        return len(jobs)

    async def _next(self, count: int, block_ms: int | None, *, look_back: bool = True) -> list[Job]:
        """One job a crashed worker left, alone, else up to `count` new ones.

        A reclaimed job runs alone: if it kills this worker too, no innocent job dies
        with it and has its delivery count raised.
        """
        if look_back:
            reclaimed = await self.queue.reclaim(self.name, self.visibility_ms, 1)
            if reclaimed:
                return reclaimed
        return await self.queue.read(self.name, count, block_ms)

    def _look_back(self) -> bool:
        """Whether to look for abandoned jobs now: a job is abandoned only after the
        visibility timeout, so looking a few times per timeout (at most every second)
        finds it in time without a Redis round trip on every batch.
        """
        now = asyncio.get_running_loop().time()
        if now < self._next_look_back:
            return False
        self._next_look_back = now + min(1.0, self.visibility_ms / 4000)
        return True

    async def run(self, stop: asyncio.Event, block_ms: int = 500) -> None:
        """Work until `stop` is set, then finish or release the current job within `grace_s`.

        A Redis outage (restart, failover) is waited out with backoff instead of exiting.
        """
        backoff = 0.1
        while not stop.is_set():
            try:
                jobs = await self._next(10, block_ms, look_back=self._look_back())
                if jobs and jobs[0].reclaimed:
                    self._next_look_back = 0.0  # more may be waiting: look again at once
                await self._run_batch(jobs, stop)
                backoff = 0.1
            except ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                await self.queue.ensure_group()  # Redis came back without its data
            except (RedisError, OSError) as error:
                log.warning("redis unavailable (%s); retrying in %.1fs", error, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 2.0)

    async def _run_batch(self, jobs: list[Job], stop: asyncio.Event) -> None:
        for index, job in enumerate(jobs):
            if stop.is_set():
                for unstarted in jobs[index:]:
                    await self.queue.release(unstarted)
                return
            task = asyncio.ensure_future(self.handle(job))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not task.done():
                await self._finish_or_release(job, task)

    async def _finish_or_release(self, job: Job, task: asyncio.Future[None]) -> None:
        done, _ = await asyncio.wait({task}, timeout=self.grace_s)
        if done:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.warning("job %s released unfinished at shutdown", job.kind)
        await self.queue.release(job)

    async def handle(self, job: Job) -> None:
        """Handle one job, with its ids in the log context of everything it logs."""
        with (
            logcontext.bound(**logcontext.ids_of(job.kind, job.entry_id, job.payload)),
            delivering(job),
        ):
            await self._handle(job)

    async def _handle(self, job: Job) -> None:
        if job.deliveries > self.max_attempts:
            crashes = job.deliveries - 1
            await self._dead(job, f"its worker died {crashes} times while handling it")
            return
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self._dead(job, f"no handler for job kind {job.kind!r}")
            return
        try:
            await handler(job)
        except NotFound as missing:
            log.warning("job %s: %s; dropped", job.kind, missing)
        except Deferred as later:
            log.info("job %s %s", job.kind, later)
            await self.queue.defer(job, self.clock.now() + timedelta(seconds=later.seconds))
            return
        except asyncio.CancelledError:
            raise  # left unacknowledged: another worker reclaims it
        except (RedisConnectionError, RedisTimeoutError):
            raise  # Redis is away, not the job at fault: it stays pending and is reclaimed
        except Exception as error:  # noqa: BLE001 - any failure is retried, then dead-lettered
            await self._failed(job, error)
            return
        await self.queue.ack(job)
        self.processed += 1

    async def _failed(self, job: Job, error: Exception) -> None:
        detail = f"{type(error).__name__}: {error}"
        if job.attempt + 1 >= self.max_attempts:
            await self._dead(job, f"it failed {job.attempt + 1} times, last with {detail}")
            return
        backoff = timedelta(seconds=min(2**job.attempt, 300))
        log.warning("job %s failed (attempt %d): %s", job.kind, job.attempt + 1, detail)
        await self.queue.retry_later(job, self.clock.now() + backoff)

    async def _dead(self, job: Job, detail: str) -> None:
        log.error("job %s dead-lettered: %s", job.kind, detail)
        await self.queue.dead_letter(job, detail)
        if self.on_dead_letter is not None:
            await self.on_dead_letter(job, detail)


def payload(job: Job, name: str) -> Any:
    return job.payload[name]
