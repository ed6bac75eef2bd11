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
from orchestrator.errors import Deferred, NotFound, Refused, Unavailable
from orchestrator.jobs import Delivery, Job, JobQueue, delivering

log = logging.getLogger("baton.worker")

JobHandler = Callable[[Job], Awaitable[None]]
DeadLetterHook = Callable[[Job, str], Awaitable[None]]

UNAVAILABLE_MAX_WAIT_S = 60.0
"""The longest wait between two tries of a job whose dependency is down."""
ACK_WITHIN_S = 0.02
"""How long a handled job's acknowledgement may wait to share a round trip with others'
(or with the next read). Only a crash in that window runs the job again."""


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
        self.slots = 4
        """Jobs about different outcomes a running worker handles side by side."""
        self._acks: list[str] = []
        """Handled jobs whose acknowledgement is gathered (sent within `ACK_WITHIN_S`)."""
        self._acking: set[asyncio.Task[None]] = set()

    async def run_once(self, block_ms: int | None = None, count: int = 10) -> int:
        """Handle what is waiting (and what crashed workers left); returns how many."""
        jobs = await self._next(count, block_ms, look_back=self._look_back())
        for job in jobs:
            await self.handle(job)
        await self.flush_acks()
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
        acks, self._acks = self._acks, []
        try:
            return await self.queue.read(self.name, count, block_ms, acks=acks)
        except BaseException:
            self._acks = acks + self._acks  # not sent, or not known to be: send again
            raise

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
        with contextlib.suppress(RedisError, OSError):
            await self.flush_acks()

    async def flush_acks(self) -> None:
        """Send the gathered acknowledgements now."""
        acks, self._acks = self._acks, []
        if not acks:
            return
        try:
            await self.queue.ack_all(acks)
        except BaseException:
            self._acks = acks + self._acks
            raise

    def _ack_soon(self, job: Job) -> None:
        """Gather `job`'s acknowledgement: it goes with the next read, or on its own once
        `ACK_WITHIN_S` has passed, whichever is first."""
        self._acks.append(job.entry_id)
        if len(self._acks) == 1:
            asyncio.get_running_loop().call_later(ACK_WITHIN_S, self._ack_overdue)

    def _ack_overdue(self) -> None:
        if not self._acks:
            return
        task = asyncio.ensure_future(self._flush_quietly())
        self._acking.add(task)
        task.add_done_callback(self._acking.discard)

    async def _flush_quietly(self) -> None:
        try:
            await self.flush_acks()
        except (RedisError, OSError) as error:  # kept, and sent with the next read
            log.warning("acknowledgements not sent yet (%s)", error)

    async def _run_batch(self, jobs: list[Job], stop: asyncio.Event) -> None:
        """Run a batch: jobs about different outcomes side by side, up to `slots` at once
        (one waits on Redis while another computes), each outcome's jobs in order, jobs
        about no outcome in order. Once `stop` is set, the jobs in hand get `grace_s` to
        finish, and the jobs not yet started are handed back."""
        if not jobs:
            return
        hand: set[Delivery] = set()  # the jobs in hand
        started: set[str] = set()
        batch = asyncio.ensure_future(self._run_lanes(jobs, stop, hand, started))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({batch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not batch.done():
            await asyncio.wait({batch}, timeout=self.grace_s)
        if batch.done():
            batch.result()
            return
        batch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await batch
        unfinished = [d.job for d in hand if not d.acknowledged]  # else committed: done
        for job in unfinished + [j for j in jobs if j.entry_id not in started]:
            log.warning("job %s released unfinished at shutdown", job.kind)
            await self.queue.release(job)

    async def _run_lanes(
        self, jobs: list[Job], stop: asyncio.Event, hand: set[Delivery], started: set[str]
    ) -> None:
        lanes: dict[str, list[Job]] = {}
        for job in jobs:
            lanes.setdefault(_lane(job), []).append(job)
        slots = asyncio.Semaphore(self.slots)

        async def in_a_slot(lane: list[Job]) -> None:
            async with slots:
                await self._run_lane(lane, stop, hand, started)

        outcomes = await asyncio.gather(
            *(in_a_slot(lane) for lane in lanes.values()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _run_lane(
        self, jobs: list[Job], stop: asyncio.Event, hand: set[Delivery], started: set[str]
    ) -> None:
        for index, job in enumerate(jobs):
            if stop.is_set():
                for unstarted in jobs[index:]:
                    started.add(unstarted.entry_id)  # handed back here
                    await self.queue.release(unstarted)
                return
            started.add(job.entry_id)
            await self.handle(job, hand)

    async def handle(self, job: Job, hand: set[Delivery] | None = None) -> None:
        """Handle one job, with its ids in the log context of everything it logs; `hand`,
        when given, holds the job's delivery while it runs."""
        with (
            logcontext.bound(**logcontext.ids_of(job.kind, job.entry_id, job.payload)),
            delivering(job) as delivery,
        ):
            if hand is None:
                await self._handle(job, delivery)
                return
            hand.add(delivery)
            await self._handle(job, delivery)
            hand.discard(delivery)  # a job cut off stays in hand, to be handed back

    async def _handle(self, job: Job, delivery: Delivery) -> None:
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
        except Unavailable as down:  # not the job's failure: run it again when it may pass
            await self._unavailable(job, down)
            return
        except Refused as refused:  # for good: running it again cannot help
            await self._dead(job, f"refused: {refused}")
            return
        except asyncio.CancelledError:
            raise  # left unacknowledged: another worker reclaims it
        except (RedisConnectionError, RedisTimeoutError):
            raise  # Redis is away, not the job at fault: it stays pending and is reclaimed
        except Exception as error:  # any failure is retried, then dead-lettered
            if delivery.acknowledged:  # its work was committed: running it again is wrong
                log.exception("job %s failed after its work was committed", job.kind)
            else:
                await self._failed(job, error)
            return
        if not delivery.acknowledged:
            self._ack_soon(job)
        self.processed += 1

    async def _failed(self, job: Job, error: Exception) -> None:
        detail = f"{type(error).__name__}: {error}"
        if job.attempt + 1 >= self.max_attempts:
            await self._dead(job, f"it failed {job.attempt + 1} times, last with {detail}")
            return
        backoff = timedelta(seconds=min(2**job.attempt, 300))
        log.warning("job %s failed (attempt %d): %s", job.kind, job.attempt + 1, detail)
        await self.queue.retry_later(job, self.clock.now() + backoff)

    async def _unavailable(self, job: Job, down: Unavailable) -> None:
        """A stand-in until the worker keeps outages itself: wait what the error asks
        (capped), without counting an attempt; no giving up here."""
        wait = min(max(down.seconds or 1.0, 1.0), UNAVAILABLE_MAX_WAIT_S)
        log.warning("job %s waits %.0f s: %s", job.kind, wait, down)
        await self.queue.retry_unavailable(job, self.clock.now() + timedelta(seconds=wait))

    async def _dead(self, job: Job, detail: str) -> None:
        log.error("job %s dead-lettered: %s", job.kind, detail)
        await self.queue.dead_letter(job, detail)
        if self.on_dead_letter is not None:
            await self.on_dead_letter(job, detail)


def payload(job: Job, name: str) -> Any:
    return job.payload[name]


def _lane(job: Job) -> str:
    """Jobs about the same outcome run in order; jobs about none share one lane."""
    payload = job.payload
    return str(payload.get("outcome") or payload.get("outcome_id") or "")
