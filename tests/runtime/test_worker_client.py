"""A worker's Redis client: no timer per command, TCP keepalive instead, and it still
rides out a restart."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.store.client import KEEPALIVE, redis_client
from orchestrator.store.embedded import EmbeddedRedis
from tests.runtime.redis_server import RedisServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


async def _opened(client: Redis) -> tuple[socket.socket, float | None]:
    """The socket of one of `client`'s connections, and its timeout per command."""
    connection = await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        sock: socket.socket = connection._writer.get_extra_info("socket")
        return sock, connection.socket_timeout
    finally:
        await client.connection_pool.release(connection)


async def test_a_worker_client_probes_a_silent_server_instead_of_timing_each_command(
    server: RedisServer,
) -> None:
    worker, requests = redis_client(server.url, worker=True), redis_client(server.url)
    try:
        assert await worker.ping() and await requests.ping()
        probed, untimed = await _opened(worker)
        assert probed.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):
            idle = probed.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
            assert idle == KEEPALIVE["TCP_KEEPIDLE"]
        assert untimed is None
        assert (await _opened(requests))[1] == 5
    finally:
        await worker.aclose()
        await requests.aclose()


async def test_a_worker_client_rides_out_a_restart(server: RedisServer) -> None:
    worker = redis_client(server.url, worker=True)
    try:
        await worker.set("kept", "yes")
        server.stop()  # the server closes the connection: the worker's next command retries
        server.start()
        assert await worker.get("kept") == b"yes"
    finally:
        await worker.aclose()


async def test_a_worker_client_on_the_embedded_servers_socket(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path / "redis")
    url = await embedded.start()
    worker = redis_client(url, worker=True)
    try:
        assert url.startswith("unix://")
        assert await worker.ping()
    finally:
        await worker.aclose()
        await embedded.stop()
