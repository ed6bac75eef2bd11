"""Without OTEL_EXPORTER_OTLP_ENDPOINT (or without the `otel` extra) tracing is off: no
span is made and job messages carry no trace context."""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from bot import otel
from config.settings import Settings
from orchestrator.runtime import tracing
from orchestrator.runtime.messages import Tick
from orchestrator.runtime.queue import JobQueue
from orchestrator.store.keys import Keys


async def test_off_unless_configured(redis: Redis, keys: Keys) -> None:
    assert not otel.setup(Settings(), "web")
    assert not tracing.enabled()
    with tracing.span("job tick") as span:
        assert span is None
        assert tracing.traceparent() is None
        await JobQueue(redis, keys).enqueue(Tick(outcome="o1"))
    entries: Any = await redis.xrange(keys.jobs())
    message = orjson.loads(entries[0][1][b"job"])
    assert message == {"kind": "tick", "payload": {"outcome": "o1"}, "attempt": 0}


def test_a_tick_starts_its_own_trace() -> None:
    assert Tick.KIND in tracing.OWN_TRACE
