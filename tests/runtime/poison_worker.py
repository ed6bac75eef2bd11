"""A worker process for the poison-job test: job kind `poison` kills its own process
with SIGKILL (as an out-of-memory kill would), `count` records that it ran.

Run as `python -m tests.runtime.poison_worker REDIS_URL PREFIX`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from redis.asyncio import Redis

from orchestrator.runtime.clock import SystemClock
from orchestrator.runtime.queue import Delivery, Job, JobQueue, consumer_name
from orchestrator.runtime.worker import Worker
from orchestrator.store.keys import Keys
from tests.messages import Count, Poison

VISIBILITY_MS = 300
MAX_ATTEMPTS = 3


async def main(url: str, prefix: str) -> None:
    redis = Redis.from_url(url)
    keys = Keys(prefix)
    queue = JobQueue(redis, keys)

    async def die(job: Poison, work: Delivery) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    async def count(job: Count, work: Delivery) -> None:
        await redis.incr(f"{prefix}:ran:{job.n}")

    async def dead_lettered(job: Job, error: str) -> None:
        await redis.rpush(f"{prefix}:incidents", f"{job.kind}: {error}")

    worker = Worker(
        queue,
        {Poison: die, Count: count},
        clock=SystemClock(),
        name=consumer_name("poison-test"),
        max_attempts=MAX_ATTEMPTS,
        visibility_ms=VISIBILITY_MS,
        on_dead_letter=dead_lettered,
    )
    await queue.ensure_group()
    await worker.run(asyncio.Event(), block_ms=100)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
