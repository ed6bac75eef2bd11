"""The clock process: APScheduler 3.x behind a leader lock; it moves work, never does it.

Exactly one clock is active: the holder of the leader lock. Its scheduler moves due
timers into the job stream on an interval and enqueues cron jobs (a weekly digest, for
example). Moving a timer is one Lua script that removes it as it queues it, so even two
clocks racing (a leader that stalled past its TTL) cannot fire a timer twice; a cron
firing is deduplicated by its name and minute for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from redis.exceptions import RedisError

from orchestrator.runtime.clock import Clock
from orchestrator.runtime.leader import lead
from orchestrator.runtime.messages import ArchiveBatch, Scheduled
from orchestrator.runtime.queue import JobQueue
from orchestrator.store.leader_lock import LeaderLock
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.clock")

CRON_DEDUPE_TTL_S = 3_600


@dataclass(frozen=True)
class CronJob:
    """A job the clock enqueues on a cron schedule (the worker does the work)."""

    name: str
    message: type[Scheduled]
    """What the job asks a worker to do (queued with the entry's name and minute)."""
    cron: dict[str, str]
    """APScheduler `CronTrigger` fields, e.g. {"day_of_week": "mon", "hour": "9"}."""


CRON_JOBS: list[CronJob] = []
"""Cron jobs every clock runs; features append theirs at import time."""

CRON_JOBS.append(
    # Moves what the loop no longer needs from Redis to the history store, in batches.
    CronJob(name="history_archive", message=ArchiveBatch, cron={"minute": "*/10"})
)


class ClockService:
    """Campaigns for the leader lock; while leading, runs the scheduler."""

    def __init__(
        self,
        store: RedisStore,
        queue: JobQueue,
        clock: Clock,
        lock: LeaderLock,
        *,
        every_s: float = 1.0,
        cron_jobs: list[CronJob] | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.clock = clock
        self.lock = lock
        self.every_s = every_s
        self.cron_jobs = list(CRON_JOBS if cron_jobs is None else cron_jobs)
        self.leading = asyncio.Event()
        self.deposed = asyncio.Event()
        self.moved = 0
        self.fired: list[str] = []

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop`; the scheduler runs only while this clock leads."""
        scheduler = self._scheduler()
        scheduler.start(paused=True)
        campaign = asyncio.create_task(lead(self.lock, stop, self.leading, self.deposed))
        try:
            while not stop.is_set():
                await _first(stop, self.leading)
                if stop.is_set():
                    break
                log.info("clock %s is the leader", self.lock.owner)
                scheduler.resume()
                await _first(stop, self.deposed)
                scheduler.pause()
                if not stop.is_set():
                    log.warning("clock %s lost the leadership; standing by", self.lock.owner)
        finally:
            scheduler.shutdown(wait=False)
            await campaign

    def _scheduler(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self.move_due,
            "interval",
            seconds=self.every_s,
            id="move_due",
            max_instances=1,
            coalesce=True,
        )
        for job in self.cron_jobs:
            scheduler.add_job(
                self.fire,
                CronTrigger(timezone="UTC", **job.cron),
                args=[job],
                id=job.name,
                max_instances=1,
                coalesce=True,
            )
        return scheduler

    async def move_due(self) -> int:
        """Move every due timer into the stream (batches until none is left)."""
        if not self.leading.is_set():
            return 0
        total = 0
        try:
            while moved := await self.queue.move_due(self.clock.now()):
                total += moved
        except RedisError as error:
            log.warning("moving timers failed: %s", error)
        self.moved += total
        return total

    async def fire(self, job: CronJob) -> bool:
        """Enqueue a cron job once per scheduled minute, whichever clock gets there."""
        if not self.leading.is_set():
            return False
        minute = self.clock.now().strftime("%Y%m%dT%H%M")
        if not await self.store.first_time(f"cron:{job.name}:{minute}", CRON_DEDUPE_TTL_S):
            return False
        await self.queue.enqueue(job.message(cron=job.name, at=minute))
        self.fired.append(job.name)
        return True


async def _first(stop: asyncio.Event, other: asyncio.Event) -> None:
    """Wait until either event is set."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(other.wait())]
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
