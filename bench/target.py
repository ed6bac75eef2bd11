"""Where a benchmark may write: only a Redis it was explicitly given, only under its own prefix.

A benchmark creates thousands of keys and clears them afterwards. Taking `REDIS_URL` (the
server Baton itself runs on) or a default address would run that on whatever data happens
to live there, so the URL must come from `--redis-url` or `BATON_BENCH_REDIS_URL`, and
clearing deletes the benchmark's own key prefix, never a whole database.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

from redis.asyncio import Redis

ENV = "BATON_BENCH_REDIS_URL"
SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")


class NoTarget(SystemExit):
    """The benchmark was not told where to write (or was told something unusable)."""


def add_redis_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """`--redis-url`, documented as the only way (with `BATON_BENCH_REDIS_URL`) to name one."""
    default = "" if required else " (default: an embedded server in a temporary directory)"
    parser.add_argument(
        "--redis-url",
        default=None,
        help=f"the Redis server to benchmark on (or set {ENV}); REDIS_URL is never used, "
        f"and only keys under the benchmark's own prefix are written and deleted{default}",
    )


def redis_url(given: str | None, env: Mapping[str, str]) -> str:
    """The URL given on the command line or in `BATON_BENCH_REDIS_URL`, as it was written;
    refused when there is none. `REDIS_URL` is deliberately not read."""
    url = optional_redis_url(given, env)
    if url is None:
        raise NoTarget(
            f"Refusing to run: name the Redis server to benchmark on with --redis-url or "
            f"{ENV} (REDIS_URL is not used, so Baton's own data is never touched)."
        )
    return url


def optional_redis_url(given: str | None, env: Mapping[str, str]) -> str | None:
    """As `redis_url`, but None when none was given (the caller starts its own server)."""
    url = given or env.get(ENV) or None
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not (parts.hostname or parts.path):
        raise NoTarget(
            f"Refusing to run: {url!r} is not a redis://, rediss://, redis+cluster:// "
            "or unix:// URL."
        )
    return url


def own_prefix(name: str) -> str:
    """A key prefix no one else uses: the benchmark's name and a random part."""
    return f"bench:{name}:{uuid.uuid4().hex[:10]}"


async def clear(redis: Redis, prefix: str) -> int:
    """Delete the keys under `prefix` (and nothing else); how many were deleted."""
    deleted = 0
    batch: list[bytes] = []
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += await redis.unlink(*batch)
            batch.clear()
    if batch:
        deleted += await redis.unlink(*batch)
    return deleted
