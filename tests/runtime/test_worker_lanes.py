"""A running worker handles jobs about different outcomes side by side, each outcome's
jobs in order, and hands back whatever it holds when stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from orchestrator.runtime.clock import SystemClock
from orchestrator.runtime.messages import Message
from orchestrator.runtime.queue import Delivery, JobQueue
from orchestrator.runtime.worker import Worker


class Work(Message):
    """Some work about an outcome."""

    KIND: ClassVar[str] = "work"
    outcome: str
    n: int


class Click(Work):
    """A click's work (it calls no connector)."""

    KIND: ClassVar[str] = "click"


class Said(Message):
    """A notice about an outcome (the worker gives an outcome's notices a lane of their own)."""

    KIND: ClassVar[str] = "notify"
    outcome_id: str
    n: int


class Gated:
    """A handler whose jobs wait for their outcome's gate; records starts and ends."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.log: list[str] = []

    def gate(self, outcome: str) -> asyncio.Event:
        return self.gates.setdefault(outcome, asyncio.Event())

    async def __call__(self, job: Work, work: Delivery) -> None:
        name = f"{job.outcome}/{job.n}"
        self.log.append(f"start {name}")
        await self.gate(job.outcome).wait()
        self.log.append(f"end {name}")


async def until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.005)


async def test_jobs_about_different_outcomes_run_side_by_side_each_in_order(
    queue: JobQueue,
) -> None:
    handler = Gated()
    worker = Worker(queue, {Work: handler}, clock=SystemClock())
    for outcome, n in (("o1", 1), ("o2", 1), ("o1", 2)):
        await queue.enqueue(Work(outcome=outcome, n=n))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, block_ms=100))
    await until(lambda: "start o2/1" in handler.log and "start o1/1" in handler.log)
    handler.gate("o2").set()  # o2 finishes while o1 is still busy
    await until(lambda: "end o2/1" in handler.log)
    assert "start o1/2" not in handler.log  # o1's second job waits for its first
    handler.gate("o1").set()
    await until(lambda: "end o1/2" in handler.log)
    assert handler.log.index("end o1/1") < handler.log.index("start o1/2")
    stop.set()
    await asyncio.wait_for(running, 10)
    assert (await queue.pending(), await queue.backlog()) == (0, 0)


async def test_one_slot_runs_one_job_at_a_time(queue: JobQueue) -> None:
    handler = Gated()
    worker = Worker(queue, {Work: handler}, clock=SystemClock())
    worker.slots = 1
    await queue.enqueue(Work(outcome="o1", n=1))
    await queue.enqueue(Work(outcome="o2", n=1))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, block_ms=100))
    await until(lambda: handler.log)
    await asyncio.sleep(0.05)
    assert len([line for line in handler.log if line.startswith("start")]) == 1
    handler.gate("o1").set()
    handler.gate("o2").set()
    await until(lambda: len(handler.log) == 4)
    stop.set()
    await asyncio.wait_for(running, 10)


async def test_a_stopped_worker_hands_back_every_job_in_hand_and_every_unstarted_one(
    queue: JobQueue,
) -> None:
    handler = Gated()
    worker = Worker(queue, {Work: handler}, clock=SystemClock())
    worker.grace_s = 0.2
    for outcome, n in (("o1", 1), ("o2", 1), ("o1", 2)):
        await queue.enqueue(Work(outcome=outcome, n=n))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, block_ms=100))
    await until(lambda: len(handler.log) == 2)  # o1/1 and o2/1 in hand, o1/2 waiting
    stop.set()
    await asyncio.wait_for(running, 10)
    assert await queue.pending() == 0
    back = await queue.read("another", count=10)
    assert sorted((j.payload["outcome"], j.payload["n"]) for j in back) == [
        ("o1", 1),
        ("o1", 2),
        ("o2", 1),
    ]


async def test_an_outcomes_notices_do_not_wait_behind_its_other_jobs(queue: JobQueue) -> None:
    """A decision queues the step's execution, then its notice: the card is updated while
    the step waits on a slow connector, and the outcome's notices keep their order."""
    handler = Gated()
    said: list[int] = []

    async def notify(job: Said, work: Delivery) -> None:
        said.append(job.n)

    worker = Worker(queue, {Work: handler, Said: notify}, clock=SystemClock())
    await queue.enqueue(Work(outcome="o1", n=1))
    for n in (1, 2):
        await queue.enqueue(Said(outcome_id="o1", n=n))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, block_ms=100))
    await until(lambda: said == [1, 2])
    assert handler.log == ["start o1/1"], "the notices went out while the step still runs"
    handler.gate("o1").set()
    await until(lambda: "end o1/1" in handler.log)
    stop.set()
    await asyncio.wait_for(running, 10)


async def test_a_job_read_while_another_runs_starts_before_it_ends(queue: JobQueue) -> None:
    """A worker keeps reading while a job in hand runs: a job queued meanwhile about
    another outcome is not held up by it."""
    handler = Gated()
    worker = Worker(queue, {Work: handler}, clock=SystemClock())
    await queue.enqueue(Work(outcome="o1", n=1))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, block_ms=100))
    await until(lambda: "start o1/1" in handler.log)
    await queue.enqueue(Work(outcome="o2", n=1))
    handler.gate("o2").set()
    await until(lambda: "end o2/1" in handler.log)
    assert "end o1/1" not in handler.log
    handler.gate("o1").set()
    await until(lambda: "end o1/1" in handler.log)
    stop.set()
    await asyncio.wait_for(running, 10)
    assert (await queue.pending(), await queue.backlog()) == (0, 0)


async def test_a_job_waiting_its_turn_keeps_its_claim_and_is_not_run_once_taken_over(
    queue: JobQueue,
) -> None:
    """Jobs in hand that wait for their lane are renewed like running ones; one another
    worker took over meanwhile is left to it."""
    handler = Gated()
    worker = Worker(queue, {Work: handler}, clock=SystemClock())
    for n in (1, 2):
        await queue.enqueue(Work(outcome="o1", n=n))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, block_ms=100))
    await until(lambda: "start o1/1" in handler.log)
    await worker.renew_claims()
    assert await queue.reclaim("other", 60_000, 10) == []  # both held: renewed
    taken = await queue.reclaim("other", 0, 10)  # taken over at once, as after a stall
    assert sorted(job.payload["n"] for job in taken) == [1, 2]
    await worker.renew_claims()
    await queue.enqueue(Work(outcome="o1", n=3))
    handler.gate("o1").set()
    await until(lambda: "end o1/3" in handler.log)
    assert "start o1/2" not in handler.log
    stop.set()
    await asyncio.wait_for(running, 10)


async def test_jobs_calling_connectors_never_take_the_slots_of_the_other_jobs(
    queue: JobQueue,
) -> None:
    """With every connector slot held by a slow call, a click's job still runs."""
    handler = Gated()
    worker = Worker(queue, {Work: handler, Click: handler}, clock=SystemClock())
    worker.slots = 1
    worker.connector_kinds = frozenset({Work.KIND})
    await queue.enqueue(Work(outcome="o1", n=1))
    await queue.enqueue(Work(outcome="o2", n=1))
    await queue.enqueue(Click(outcome="o3", n=1))
    handler.gate("o3").set()
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, block_ms=100))
    await until(lambda: "end o3/1" in handler.log)
    assert [line for line in handler.log if "o3" not in line] == ["start o1/1"]
    handler.gate("o1").set()
    handler.gate("o2").set()
    await until(lambda: "end o2/1" in handler.log)
    stop.set()
    await asyncio.wait_for(running, 10)
