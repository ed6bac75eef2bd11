"""`wait_until_answers`: a Redis that is not up yet is waited for with capped, jittered
backoff and said once; one that refuses the password is not waited for."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis

from orchestrator.errors import ConfigError
from orchestrator.store.client import wait_until_answers
from tests.runtime.redis_server import RedisServer

TRIES_BEFORE_UP = 6


async def test_a_redis_started_later_is_waited_for_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the server comes up after a few tries
        waits.append(seconds)
        if len(waits) == TRIES_BEFORE_UP:
            server.start()

    caplog.set_level(logging.WARNING, logger="baton")
    try:
        await wait_until_answers(server.url, "Redis here", sleep=sleep, first_s=0.2, cap_s=1.0)
    finally:
        server.stop()
    assert len(waits) == TRIES_BEFORE_UP
    bounds = [min(0.2 * 2**n, 1.0) for n in range(TRIES_BEFORE_UP)]
    assert all(bound / 2 <= wait <= bound for wait, bound in zip(waits, bounds, strict=True))
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 2, said
    assert said[0].startswith("Redis here does not answer") and "up to every 1 s" in said[0]
    assert said[1].startswith("Redis here answers after")


async def test_a_refused_password_is_not_waited_for(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    try:
        with redis.Redis(port=server.port) as admin:
            admin.config_set("requirepass", "the-right-one")
        url = f"redis://:not-the-right-one@127.0.0.1:{server.port}/0"
        with pytest.raises(ConfigError, match="refused the credentials"):
            await wait_until_answers(url, "Redis here", sleep=sleep)
    finally:
        server.stop()
    assert waits == []
