"""Job messages of the tests' own, for the queue and the worker alone."""

from __future__ import annotations

from typing import Any, ClassVar

from orchestrator.runtime.messages import Message
from orchestrator.runtime.queue import Delivery, Job, JobQueue, encode


class Numbered(Message):
    """A job that carries a number and asks for nothing in particular."""

    KIND: ClassVar[str] = "numbered"
    n: int


class Boom(Numbered):
    """A job whose handler fails."""

    KIND: ClassVar[str] = "boom"


async def enqueue_raw(
    queue: JobQueue, kind: str, payload: dict[str, Any], attempt: int = 0
) -> None:
    """Queue a job as any version of Baton may have written it: a kind and a payload."""
    stream = queue.keys.jobs(queue.keys.tag(""))
    await queue.redis.xadd(stream, {"job": encode(kind, payload, attempt)})


class Poison(Message):
    """A job whose handler kills its own worker process."""

    KIND: ClassVar[str] = "poison"


class Count(Numbered):
    """A job whose handler counts its `n` as run."""

    KIND: ClassVar[str] = "count"


class ClockProbe(Numbered):
    """A job no worker handles: no worker runs there, so moved timers stay in the stream."""

    KIND: ClassVar[str] = "clock_probe"


def handling(message: Message, entry_id: str = "1-1") -> Delivery:
    """The delivery a handler called directly is given: a job no worker read (unfenced)."""
    return Delivery(Job(entry_id, message.KIND, message.payload()))
