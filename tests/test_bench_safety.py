"""Benchmarks write only to a Redis they were explicitly given, and delete only their own keys.

Run as people run them (`python -m bench.<name>`) against a redis-server this test owns, with
someone else's keys in two of its databases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bench import target
from tests.runtime.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]
THEIRS = {0: "app:customer:1", 14: "app:session:7"}
"""Keys of another application in databases 0 and 14 (where `bench.loop` used to FLUSHDB)."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path)
    running.start()
    for db, key in THEIRS.items():
        with redis.Redis(port=running.port, db=db) as client:
            client.set(key, "keep me")
    try:
        yield running
    finally:
        running.stop()


def _bench(module: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", target.ENV)}
    return subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _survivors(server: RedisServer) -> dict[int, bytes | None]:
    found = {}
    for db, key in THEIRS.items():
        with redis.Redis(port=server.port, db=db) as client:
            found[db] = client.get(key)
    return found


@pytest.mark.parametrize(
    ("module", "args"),
    [("loop", ["--outcomes", "3", "--cycles", "1"]), ("cases", ["--cases", "3", "--seconds", "1"])],
)
def test_a_benchmark_refuses_the_redis_url_it_was_not_given(
    server: RedisServer, module: str, args: list[str]
) -> None:
    base = server.url.rsplit("/", 1)[0]  # no database path: the URL that became redis://0
    done = _bench(module, args, {"REDIS_URL": base})
    assert done.returncode != 0
    assert "Refusing to run" in done.stderr and "--redis-url" in done.stderr
    assert "Traceback" not in done.stderr
    assert _survivors(server) == {0: b"keep me", 14: b"keep me"}


def test_a_benchmark_deletes_only_its_own_keys(server: RedisServer) -> None:
    args = ["--redis-url", server.url, "--outcomes", "3", "--cycles", "1", "--peer-steps", "0"]
    done = _bench("loop", args, {})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3 outcomes, 1 cycles" in done.stdout
    assert _survivors(server) == {0: b"keep me", 14: b"keep me"}
    with redis.Redis(port=server.port) as client:
        assert client.keys("bench:*") == []  # and it cleared what it wrote


def test_an_implicit_or_unusable_url_is_refused() -> None:
    with pytest.raises(target.NoTarget):
        target.redis_url(None, {"REDIS_URL": "redis://127.0.0.1:6379"})
    with pytest.raises(target.NoTarget):
        target.redis_url("http://127.0.0.1:6379/0", {})
    assert target.optional_redis_url(None, {"REDIS_URL": "redis://127.0.0.1:6379"}) is None
    given = "redis://127.0.0.1:6390"
    assert target.redis_url(None, {target.ENV: given}) == given  # as written, never rewritten
