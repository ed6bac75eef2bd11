"""The worker: reads jobs from the stream, decodes each into its message and dispatches it
by the message's type (`orchestrator.runtime.dispatch`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import cast

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)

from orchestrator.errors import Deferred, NotFound, Refused, TakenOver, Unavailable
from orchestrator.runtime import logcontext, tracing
from orchestrator.runtime.clock import Clock
from orchestrator.runtime.dispatch import AnyHandler, Handlers, Undecodable
from orchestrator.runtime.messages import Message, Notify
from orchestrator.runtime.queue import Delivery, Job, JobQueue
from orchestrator.store.client import redis_refused
from orchestrator.store.counters import JobTally

log = logging.getLogger("baton.worker")

DeadLetterHook = Callable[[Job, str], Awaitable[None]]

OUTAGE_GIVE_UP_S = 6 * 3600.0
"""How long a job waits out an outage of what it depends on (`Unavailable`) before it is
given up (dead-lettered, which raises an incident); `BATON_OUTAGE_GIVE_UP_H`."""
OUTAGE_BACKOFF_CAP_S = 60.0
"""The longest wait between two tries of a job that waits out an outage."""
REDIS_BACKOFF_CAP_S = 5.0
"""The longest wait before a job that Redis refused (full, or gone) is tried again."""
READ_BACKOFF_CAP_S = 2.0
"""The longest wait before a worker that Redis refused reads again."""
IN_FLIGHT = 16
"""Jobs a running worker holds at most (`BATON_WORKER_IN_FLIGHT`)."""

ACK_WITHIN_S = 0.02
"""How long a handled job's acknowledgement may wait to share a round trip with others'
(or with the next read). Only a crash in that window runs the job again."""


class Worker:
    """Runs jobs; a failing job is retried with backoff, then dead-lettered."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Handlers | Mapping[type[Message], AnyHandler],
        *,
        clock: Clock,
        name: str = "worker",
        max_attempts: int = 5,
        visibility_ms: int = 30_000,
        on_dead_letter: DeadLetterHook | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = handlers if isinstance(handlers, Handlers) else Handlers.of(handlers)
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
        self.in_flight = IN_FLIGHT
        """Jobs a running worker holds at most: running, or read and waiting for their turn."""
        self._slots = asyncio.Semaphore(self.slots)
        self.connector_kinds: frozenset[str] = frozenset()
        """Kinds of jobs that call connectors (systems of record): they take `slots` slots
        of their own, so jobs waiting on a slow connector never hold every slot while a
        click or a card waits."""
        self._connector_slots = asyncio.Semaphore(self.slots)
        self._tasks: set[asyncio.Task[None]] = set()
        """The jobs in hand, one task each."""
        self._lanes: dict[str, asyncio.Task[None]] = {}
        """Each lane's last job taken in hand: the next one of the lane runs after it."""
        self._waiting: dict[str, Job] = {}
        """Jobs in hand not started yet, by entry id (their claims are renewed too)."""
        self._hand: set[Delivery] = set()
        """Jobs started and not finished (handed back unless committed, at shutdown)."""
        self._alone: asyncio.Task[None] | None = None
        """A job reclaimed from a crashed worker: nothing else is read until it is done."""
        self._failures: list[Exception] = []
        """What jobs in hand raised (Redis refusing): the next read waits, as after a failed one."""
        self._acks: list[str] = []
        """Handled jobs whose acknowledgement is gathered (sent within `ACK_WITHIN_S`)."""
        self._acking: set[asyncio.Task[None]] = set()
        self.give_up_s = OUTAGE_GIVE_UP_S
        self._running: dict[str, Delivery] = {}
        """The jobs being handled, by entry id: their claims are renewed while they run."""
        self._stop: asyncio.Event | None = None
        """Set while `run` runs: a job Redis refused is tried again until the worker stops."""
        self.tally = JobTally.for_queue(queue)
        """Jobs handled per kind and outcome, and how long each took (`/metrics`)."""
        self._ended: dict[str, str] = {}
        """How each job being handled ended (`counters.JOB_OUTCOMES`), by entry id."""

    async def run_once(self, block_ms: int | None = None, count: int = 10) -> int:
        """Handle what is waiting (and what crashed workers left); returns how many."""
        jobs = await self._next(count, block_ms, look_back=self._look_back())
        for job in jobs:
            await self.handle(job)
        await self.flush_acks()
        await self.tally.flush()
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
        """Work until `stop` is set, then finish or hand back the jobs in hand within `grace_s`.

        New jobs are read while the jobs in hand run, up to `in_flight` in hand: a click's
        notice is not held up by a slow connector call in hand. A Redis outage (restart,
        failover, a full memory that refuses writes) is waited out with backoff instead of
        exiting. The claims of the jobs in hand (running or waiting for their turn) are
        renewed, so a job slower than the visibility timeout is not taken over from a live
        worker.
        """
        self._stop = stop
        self._slots = asyncio.Semaphore(self.slots)
        self._connector_slots = asyncio.Semaphore(self.slots)
        renewing = asyncio.ensure_future(self._keep_claims())
        try:
            await self._work(stop, block_ms)
        finally:
            await self._hand_back()
            renewing.cancel()
            self._stop = None
        await asyncio.gather(*self._acking)  # acknowledgements on their way (quiet)
        with contextlib.suppress(RedisError, OSError):
            await self.flush_acks()
        await self.tally.flush()

    async def _work(self, stop: asyncio.Event, block_ms: int) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((RedisError, OSError)),
            wait=wait_exponential(multiplier=0.1, max=READ_BACKOFF_CAP_S) + wait_random(0, 0.1),
            stop=lambda _: stop.is_set(),
            sleep=self._nap,
            before_sleep=lambda state: log.warning(
                "redis unavailable (%s); retrying in %.1fs",
                state.outcome.exception() if state.outcome else None,
                state.upcoming_sleep,
            ),
            retry_error_callback=lambda _: None,
        )
        while not stop.is_set():
            await retrying(self._step, stop, block_ms)

    async def _step(self, stop: asyncio.Event, block_ms: int) -> None:
        """Wait for room in hand, then read jobs and take them in hand. A job in hand
        that failed on Redis fails the step, so the next read waits like a failed one."""
        if self._failures:
            raise self._failures.pop(0)
        await self._room(stop)
        if stop.is_set():
            return
        room = self.in_flight - len(self._tasks)
        try:
            jobs = await self._next(room, block_ms, look_back=self._look_back())
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await self.queue.ensure_group()  # Redis came back without its data
            return
        if jobs and jobs[0].reclaimed:
            self._next_look_back = 0.0  # more may be waiting: look again at once
            jobs = [job for job in jobs if job.entry_id not in self._held()]
        for job in jobs:
            self._take(job, stop)

    async def _room(self, stop: asyncio.Event) -> None:
        """Wait until there is room for a job more in hand (a reclaimed job runs alone)."""
        while self._tasks and not stop.is_set():
            if self._alone is None and len(self._tasks) < self.in_flight:
                return
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({*self._tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()

    def _held(self) -> set[str]:
        return {*self._waiting, *self._running}

    def _take(self, job: Job, stop: asyncio.Event) -> None:
        """Take `job` in hand: it runs after the jobs of its lane taken before it (a job
        reclaimed from a crashed worker: after all the jobs in hand, alone), in a slot."""
        lane = _lane(job)
        last = self._lanes.get(lane)
        before = set(self._tasks) if job.reclaimed else {last} if last else set()
        task = asyncio.ensure_future(self._in_turn(job, before, stop))
        self._waiting[job.entry_id] = job
        self._tasks.add(task)
        self._lanes[lane] = task
        if job.reclaimed:
            self._alone = task
        task.add_done_callback(lambda done: self._taken_out(done, lane))

    def _taken_out(self, task: asyncio.Task[None], lane: str) -> None:
        self._tasks.discard(task)
        if self._lanes.get(lane) is task:
            del self._lanes[lane]
        if self._alone is task:
            self._alone = None
        if not task.cancelled() and task.exception() is not None:
            self._failures.append(cast(Exception, task.exception()))

    async def _in_turn(
        self, job: Job, before: set[asyncio.Task[None]], stop: asyncio.Event
    ) -> None:
        if before:
            await asyncio.wait(before)
        async with self._connector_slots if job.kind in self.connector_kinds else self._slots:
            if self._waiting.pop(job.entry_id, None) is None:
                log.warning("job %s was taken over while it waited; left to it", job.kind)
            elif stop.is_set():
                await self.queue.release(job)  # not started: handed back
            else:
                await self.handle(job, self._hand)

    async def _hand_back(self) -> None:
        """Let the jobs in hand finish within `grace_s`; hand back the rest (a job cut off
        that committed its work is done)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.grace_s)
        cut = list(self._tasks)
        for task in cut:
            task.cancel()
        await asyncio.gather(*cut, return_exceptions=True)
        unfinished = [d.job for d in self._hand if not d.acknowledged]
        for job in unfinished + list(self._waiting.values()):
            log.warning("job %s released unfinished at shutdown", job.kind)
            try:
                await self.queue.release(job)
            except (RedisError, OSError) as error:  # reclaimed after the visibility timeout
                log.warning("job %s not released (%s)", job.kind, error)
        self._hand.clear()
        self._waiting.clear()
        self._failures.clear()

    def renew_every_s(self) -> float:
        """How often running jobs' claims are renewed: three times per visibility timeout."""
        return max(self.visibility_ms / 3000, 0.05)

    async def _keep_claims(self) -> None:
        while True:  # until cancelled, once the jobs in hand are done or handed back
            await asyncio.sleep(self.renew_every_s())
            await self.renew_claims()

    async def renew_claims(self) -> None:
        """Renew the claims of the jobs in hand; one another worker took over is marked
        lost (its commits are refused anyway: `TakenOver`), or not started if it waits."""
        held = {entry: d for entry, d in self._running.items() if d.fenced and not d.lost}
        waiting = [entry for entry, job in self._waiting.items() if job.consumer]
        if not held and not waiting:
            return
        try:
            kept = await self.queue.renew(self.name, [*held, *waiting])
        except (RedisError, OSError) as error:
            log.warning(
                "claims of %d jobs in hand not renewed (%s)", len(held) + len(waiting), error
            )
            return
        for entry, delivery in held.items():
            if entry not in kept and not delivery.acknowledged:
                delivery.lost = True
                log.warning("job %s was taken over by another worker", delivery.job.kind)
        for entry in waiting:
            if entry not in kept:
                self._waiting.pop(entry, None)  # its turn finds it gone: not run here

    async def flush_acks(self) -> None:
        """Send the gathered acknowledgements now."""
        acks, self._acks = self._acks, []
        if not acks:
            return
        try:
            await self.queue.ack_all(self.name, acks)
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

    async def handle(self, job: Job, hand: set[Delivery] | None = None) -> None:
        """Handle one job, with its ids in the log context of everything it logs; `hand`,
        when given, holds the job's delivery while it runs."""
        with (
            logcontext.bound(**logcontext.ids_of(job.kind, job.entry_id, job.payload)),
            tracing.span(
                f"job {job.kind}",
                kind="consumer",
                parent=job.trace,
                new_trace=job.kind in tracing.OWN_TRACE,
                attributes={"baton.job.kind": job.kind, "baton.job.attempt": job.attempt},
            ),
        ):
            delivery = Delivery(job)
            self._running[job.entry_id] = delivery
            self._ended[job.entry_id] = "done"
            started = time.perf_counter()
            try:
                if hand is not None:
                    hand.add(delivery)
                await self._handle(job, delivery)
                if hand is not None:
                    hand.discard(delivery)  # a job cut off stays in hand, to be handed back
                self.tally.record(
                    job.kind, self._ended[job.entry_id], time.perf_counter() - started
                )
            except TakenOver:
                log.warning("job %s was taken over by another worker; left to it", job.kind)
            finally:
                self._running.pop(job.entry_id, None)
                self._ended.pop(job.entry_id, None)

    async def _handle(self, job: Job, delivery: Delivery) -> None:
        if job.deliveries > self.max_attempts:
            crashes = job.deliveries - 1
            await self._dead(job, f"its worker died {crashes} times while handling it")
            return
        try:
            message = self.handlers.decode(job.kind, job.payload)
        except Undecodable as undecodable:
            await self._dead(job, str(undecodable))
            return
        try:
            await self._call(self.handlers.handler(message), message, delivery)
        except NotFound as missing:
            log.warning("job %s: %s; dropped", job.kind, missing)
            self._ended[job.entry_id] = "dropped"
        except TakenOver:
            raise  # another worker runs it now: nothing more to do or acknowledge here
        except Deferred as later:
            log.info("job %s %s", job.kind, later)
            self._ended[job.entry_id] = "deferred"
            await self.queue.defer(job, self.clock.now() + timedelta(seconds=later.seconds))
            return
        except Unavailable as down:  # not the job's failure: run it again when it may pass
            await self._wait_out(job, down)
            return
        except Refused as refused:  # for good: running it again cannot help
            await self._dead(job, f"refused: {refused}")
            return
        except asyncio.CancelledError:
            raise  # left unacknowledged: another worker reclaims it
        except Exception as error:  # any failure is retried, then dead-lettered
            if redis_refused(error):
                raise  # Redis is away or full, not the job at fault: it stays pending
            if delivery.acknowledged:  # its work was committed: running it again is wrong
                log.exception("job %s failed after its work was committed", job.kind)
            else:
                await self._failed(job, error)
            return
        if not delivery.acknowledged:
            self._ack_soon(job)
        self.processed += 1

    async def _call(self, handler: AnyHandler, message: Message, delivery: Delivery) -> None:
        """Run `handler`; while the worker runs, a job Redis refused (gone, or full) is
        tried again here (tenacity: backoff with jitter, capped), so it neither counts as
        failed nor as a crash."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(self._refused_while_running),
            wait=wait_exponential(multiplier=0.2, max=REDIS_BACKOFF_CAP_S) + wait_random(0, 0.2),
            sleep=self._nap,
            before_sleep=lambda state: log.warning(
                "job %s: redis refused (%s); trying again in %.1fs",
                message.KIND,
                state.outcome.exception() if state.outcome else None,
                state.upcoming_sleep,
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await handler(message, delivery)

    def _refused_while_running(self, error: BaseException) -> bool:
        redis_error = (RedisConnectionError, RedisTimeoutError, ResponseError, OSError)
        if isinstance(error, TakenOver) or not isinstance(error, redis_error):
            return False
        return redis_refused(error) and self._stop is not None and not self._stop.is_set()

    async def _nap(self, seconds: float) -> None:
        """Sleep, cut short when the worker is told to stop."""
        if self._stop is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), seconds)

    async def _wait_out(self, job: Job, down: Unavailable) -> None:
        """Run `job` again once the outage `down` may be over; give up after `give_up_s`."""
        now = self.clock.now().timestamp()
        since = job.since if job.since is not None else now
        waited = now - since
        if waited > self.give_up_s:
            await self._dead(job, f"{down} for {waited / 3600:.1f} hours")
            return
        # A wait the dependency asked for (a Retry-After, a channel's queue) is kept to;
        # otherwise the wait grows with the outage's age, capped.
        backoff = down.seconds if down.seconds is not None else max(waited / 2, 1.0)
        wait = min(max(backoff, 0.0), OUTAGE_BACKOFF_CAP_S)
        log.warning("job %s waits out an outage: %s; next try in %.0fs", job.kind, down, wait)
        self._ended[job.entry_id] = "deferred"
        await self.queue.wait_out(job, self.clock.now() + timedelta(seconds=wait), since)

    async def _failed(self, job: Job, error: Exception) -> None:
        detail = f"{type(error).__name__}: {error}"
        if job.attempt + 1 >= self.max_attempts:
            await self._dead(job, f"it failed {job.attempt + 1} times, last with {detail}")
            return
        backoff = timedelta(seconds=min(2**job.attempt, 300))
        log.warning("job %s failed (attempt %d): %s", job.kind, job.attempt + 1, detail)
        self._ended[job.entry_id] = "failed"
        await self.queue.retry_later(job, self.clock.now() + backoff)

    async def _dead(self, job: Job, detail: str) -> None:
        log.error("job %s dead-lettered: %s", job.kind, detail)
        self._ended[job.entry_id] = "dead"
        await self.queue.dead_letter(job, detail)
        if self.on_dead_letter is not None:
            await self.on_dead_letter(job, detail)


def _lane(job: Job) -> str:
    """Jobs about the same outcome run in order; jobs about none share one lane. An
    outcome's notices run in order in a lane of their own: a card says the decision while
    the step it started waits on a slow connector (a notice reads what it shows when it
    is delivered, so it needs no place among the outcome's other jobs)."""
    payload = job.payload
    outcome = str(payload.get("outcome") or payload.get("outcome_id") or "")
    return f"{Notify.KIND}:{outcome}" if job.kind == Notify.KIND and outcome else outcome
