"""Enqueues gathered from concurrent requests: one round trip for many, none lost, and a
failure reaches every caller that waited on it."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from orchestrator.runtime.queue import JobQueue
from orchestrator.store.keys import Keys
from tests.messages import Numbered


async def test_concurrent_callers_share_round_trips_and_all_land(redis: Redis, keys: Keys) -> None:
    queue = JobQueue(redis, keys)
    trips = 0
    pipeline = redis.pipeline

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal trips
        trips += 1
        return pipeline(*args, **kwargs)  # type: ignore[arg-type]

    redis.pipeline = counted  # type: ignore[method-assign, assignment]
    try:
        await asyncio.gather(*(queue.enqueue_gathered(Numbered(n=n)) for n in range(50)))
    finally:
        redis.pipeline = pipeline  # type: ignore[method-assign]
    await queue.ensure_group()
    jobs = await queue.read("c1", count=100)
    assert sorted(job.payload["n"] for job in jobs) == list(range(50))
    assert trips == 1


async def test_sequential_callers_each_get_their_job_in(redis: Redis, keys: Keys) -> None:
    queue = JobQueue(redis, keys)
    for n in range(3):
        await queue.enqueue_gathered(Numbered(n=n))
        assert await queue.backlog() == n + 1


async def test_a_failed_trip_fails_every_caller_in_it(keys: Keys) -> None:
    broken = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    queue = JobQueue(broken, keys)
    results = await asyncio.gather(
        *(queue.enqueue_gathered(Numbered(n=n)) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RedisConnectionError | OSError) for r in results)
    await broken.aclose()


async def test_a_caller_that_gives_up_does_not_stop_the_others(redis: Redis, keys: Keys) -> None:
    queue = JobQueue(redis, keys)
    quitter = asyncio.ensure_future(queue.enqueue_gathered(Numbered(n=0)))
    stayer = asyncio.ensure_future(queue.enqueue_gathered(Numbered(n=1)))
    await asyncio.sleep(0)
    quitter.cancel()
    await stayer
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert await queue.backlog() == 2  # the job was already on its way: it is kept
