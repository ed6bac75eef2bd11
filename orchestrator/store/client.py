"""Redis clients as Baton's processes open them."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import (
    AuthenticationError,
    OutOfMemoryError,
    RedisClusterUnreachableError,
    ResponseError,
    SlotNotCoveredError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from orchestrator.errors import ConfigError

SLOTS = 16384
"""A Redis Cluster's hash slots."""

UNAVAILABLE_REPLIES = ("LOADING", "BUSY", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "TRYAGAIN")
"""Error replies of a Redis that cannot serve for now (starting, busy, failing over; a
cluster without a master for some slots, or moving one)."""


def redis_full(error: BaseException) -> bool:
    """Redis refused a write because it is at `maxmemory` (a command, a script or EXEC)."""
    # redis-py strips the "OOM" code of a refused command (OutOfMemoryError) but not of one
    # refused inside a script or a transaction; the message names maxmemory in both.
    if isinstance(error, OutOfMemoryError):
        return True
    text = str(error)
    return isinstance(error, ResponseError) and (
        text.startswith("OOM") or "used memory > 'maxmemory'" in text
    )


def redis_refused(error: BaseException) -> bool:
    """Redis, not the work, is at fault: unreachable, timed out, full, or not serving yet."""
    if redis_full(error):
        return True
    if isinstance(error, ResponseError):
        return str(error).startswith(UNAVAILABLE_REPLIES)
    return isinstance(
        error, RedisConnectionError | RedisTimeoutError | OSError | RedisClusterUnreachableError
    )


log = logging.getLogger("baton")

KEEPALIVE = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}
"""A silent TCP peer is probed after 10 s idle, every 5 s, and dropped after 3 misses."""


def ride_out_restarts() -> Retry:
    """Retry a command whose connection failed for about 1.3 s in all, so a Redis restart or
    failover of a second costs a request some latency instead of a 500 (Slack does not retry
    a click or a slash command). A command the server ran just before the connection dropped
    may run twice: state changes are compare-and-set commits (a second run is refused) and
    jobs are idempotent, so the worst case is a chat message posted twice."""
    return Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=5)


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
"""A URL with one of these schemes names one node of a Redis Cluster (or a managed
service in cluster mode); the client finds the others."""


def is_cluster(url: str) -> bool:
    """Whether `url` names a cluster (`redis+cluster://host:port`)."""
    return url.startswith(CLUSTER_SCHEMES)


def _plain(url: str) -> str:
    """The URL redis-py parses: the scheme without `+cluster`."""
    return url.replace("+cluster://", "://", 1)


def _client(url: str, **options: Any) -> Redis:
    """A client of the server, or of the cluster, at `url`.

    A cluster client (`RedisCluster`) answers the same command methods as a client of one
    server, and routes each command by its keys' slot; the store keeps every script,
    pipeline and transaction within one slot (`Keys(tagged=True)`), so the rest of Baton
    holds it as a `Redis`."""
    if is_cluster(url):
        return cast(Redis, RedisCluster.from_url(_plain(url), **options))
    return Redis.from_url(url, **options)


def redis_client(url: str, *, worker: bool = False) -> Redis:
    """A client for `url` that rides out restarts.

    A request-serving process keeps redis-py's 5 s timeout per command. A worker's client
    (`worker`) has none: on Python 3.11 that timer costs a task per command, a quarter of
    a command's client CPU. Its reads wait for the server instead; a server that vanished
    is found by TCP keepalive within 25 s (a Unix socket fails at once), and the retry
    reconnects. A server that is up but stalled stalls the worker with it until it
    answers, as it would stall every process."""
    options: dict[str, Any] = {"retry": ride_out_restarts()}
    if worker:
        options["socket_timeout"] = None
        if not url.startswith("unix:"):
            options["socket_keepalive"] = True
            options["socket_keepalive_options"] = _keepalive_options()
    return _client(url, **options)


def _keepalive_options() -> dict[int, int]:
    """The probes' timing, as far as the platform lets a socket set it."""
    return {
        getattr(socket, name): value for name, value in KEEPALIVE.items() if hasattr(socket, name)
    }


PROBE_TIMEOUT_S = 2.0
"""A probe's connect and read timeout: a blackholed address must not hold start-up for the
operating system's minutes-long connect timeout between two tries."""

Sleep = Callable[[float], Awaitable[None]]


def probe_client(url: str) -> Redis:
    """A client that finds out fast whether the server answers: short timeouts and no
    retries (unlike `redis_client`, which rides out a restart for about 1.3 s). A cluster
    client's default retries (3, each after a topology refresh) would hold a probe of a
    stopped node for half a minute: it gets none either."""
    options: dict[str, Any] = {}
    if is_cluster(url):
        options["retry"] = Retry(NoBackoff(), 0)
    return _client(
        url, socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S, **options
    )


PROBE_TAG_SEARCH = 100_000
"""How many hash tags a cluster probe tries to find a key in every primary's slots (a few
per primary are enough; the bound keeps a strange topology from spinning)."""


async def write_probe(redis: Redis, key: str, ttl_ms: int) -> None:
    """Write `key` with a short expiry where Baton writes: on one server, there. On a
    cluster every primary must take it: each workspace lives on one shard, so a cluster
    with one shard stopped is not ready for the workspaces there. One key per primary
    (`key:{tag}`, the tag chosen to land in its slots), written side by side; a slot no
    primary serves is refused like a write. Raises what the write raised."""
    if not isinstance(redis, RedisCluster):
        await redis.set(key, "1", px=ttl_ms)
        return
    await redis.initialize()
    covered = len(redis.nodes_manager.slots_cache)
    if covered < SLOTS:
        raise SlotNotCoveredError(f"{SLOTS - covered} of {SLOTS} slots have no primary")
    probes = _key_per_primary(redis, key)
    results = await asyncio.gather(
        *(redis.set(probe, "1", px=ttl_ms) for probe in probes), return_exceptions=True
    )
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        raise failed


async def fullest_memory(redis: Redis) -> dict[str, Any]:
    """INFO memory of the server; on a cluster, of the primary closest to its `maxmemory`
    (the shard that refuses writes, when one is full)."""
    if not isinstance(redis, RedisCluster):
        return await redis.info("memory")
    found = await redis.info("memory", target_nodes=RedisCluster.PRIMARIES)
    per_node = cast(dict[str, dict[str, Any]], found)
    return max(per_node.values(), key=_memory_share)


def _memory_share(memory: dict[str, Any]) -> float:
    limit = float(memory.get("maxmemory") or 0)
    return float(memory.get("used_memory") or 0) / limit if limit else 0.0


def _key_per_primary(cluster: RedisCluster, key: str) -> list[str]:
    """A key under `key` in the slots of each primary the client knows."""
    missing = {node.name for node in cluster.get_primaries()}
    found: list[str] = []
    for n in range(PROBE_TAG_SEARCH):
        if not missing:
            break
        candidate = f"{key}:{{p{n}}}"
        owner = cluster.get_node_from_key(candidate)
        if owner is not None and owner.name in missing:
            missing.discard(owner.name)
            found.append(candidate)
    return found


UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, RedisClusterUnreachableError)
"""What a server that is down, starting, loading its data or not yet resolvable raises."""


async def wait_until_answers(
    url: str,
    label: str,
    *,
    sleep: Sleep = asyncio.sleep,
    first_s: float = 0.2,
    cap_s: float = 5.0,
) -> float:
    """Return once the server at `url` answers PING; the seconds waited.

    A server that is down, starting, loading its data or not yet resolvable is waited for,
    with backoff from `first_s` up to `cap_s` between tries (tenacity; each wait between
    half and all of that, so processes started together do not try in step), and said once
    when the wait starts and once when it ends (not once per try). A server that answers
    but refuses (a wrong password, no permission to PING) will not change its mind:
    `ConfigError`."""
    probe = probe_client(url)
    began = asyncio.get_running_loop().time()
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(UNREACHABLE),
        wait=_backoff(first_s, cap_s),
        before_sleep=_say_waiting(label, cap_s),
        sleep=sleep,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await _ping(probe, url, label)
    finally:
        await probe.aclose()
    waited = asyncio.get_running_loop().time() - began
    if retrying.statistics.get("attempt_number", 1) > 1:
        log.warning("%s answers after %.1f s; starting", label, waited)
    return waited


def _backoff(first_s: float, cap_s: float) -> wait_base:
    """Half of the doubling delay (`first_s`, twice that, ... up to `cap_s`) for sure, the
    other half at random: every wait lies within the delay's bounds, with jitter."""
    half = wait_exponential(multiplier=first_s / 2, max=cap_s / 2)
    return half + wait_random_exponential(multiplier=first_s / 2, max=cap_s / 2)


def _say_waiting(label: str, cap_s: float) -> Callable[[RetryCallState], None]:
    """Logs the first failed try only: the wait is said once, not once per try."""

    def say(state: RetryCallState) -> None:
        if state.attempt_number == 1 and state.outcome is not None:
            log.warning(
                "%s does not answer (%s); waiting for it, retrying with backoff "
                "(up to every %.0f s)",
                label,
                state.outcome.exception(),
                cap_s,
            )

    return say


async def _ping(probe: Redis, url: str, label: str) -> None:
    """One try; a refusal is a `ConfigError` (never retried), unreachable is raised as is.
    (redis-py's AuthenticationError is a ConnectionError, so it is told apart first.)"""
    try:
        await probe.ping()
    except AuthenticationError as error:
        raise ConfigError(_refused(url, label, error)) from None
    except ResponseError as error:
        raise ConfigError(f"{label} refused PING ({error})") from None


def _refused(url: str, label: str, error: AuthenticationError) -> str:
    if urlsplit(url).password is None:
        return f"{label} requires a password: put it in REDIS_URL (redis://:password@host:port/db)"
    return f"{label} refused the credentials in REDIS_URL ({error})"
