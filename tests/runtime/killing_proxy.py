"""A TCP proxy in front of Redis that kills the process behind it at a chosen write.

The process connects to Redis through the proxy. Once armed with a budget of N, the proxy
forwards the process's first N writing commands and, at the next one, kills the process with
SIGKILL and forwards nothing more: Redis holds exactly the first N writes, as after a
`kill -9` that fell between write N and write N + 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from urllib.parse import urlsplit

WRITES = frozenset(
    {"SET", "DEL", "EVALSHA", "EVAL", "XADD", "XACK", "XDEL", "HSET", "HDEL", "INCR", "INCRBY"}
    | {"ZADD", "ZREM", "SADD", "SREM", "RPUSH", "EXPIRE", "PEXPIRE", "HINCRBY", "EXEC"}
)
"""Commands that change what Redis holds (reading the job stream is not counted)."""


async def _command(reader: asyncio.StreamReader) -> tuple[str, bytes] | None:
    """The next command a client sent (its name and its bytes), or None at the end."""
    line = await reader.readline()
    if not line:
        return None
    if not line.startswith(b"*"):  # an inline command
        words = line.split()
        return (words[0].decode().upper() if words else ""), line
    parts, name = [line], ""
    for index in range(int(line[1:])):
        head = await reader.readline()  # $<size>
        data = await reader.readexactly(int(head[1:]) + 2)
        parts += [head, data]
        if index == 0:
            name = data[:-2].decode(errors="replace").upper()
    return name, b"".join(parts)


class KillingProxy:
    """Start with `await proxy.start()`; point one process's REDIS_URL at `url`."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.path = parts.path
        self.url = ""
        self.polls = 0
        """Stream reads seen: the process behind is up and asking for jobs."""
        self.writes = 0
        self.budget: int | None = None
        self.victim: subprocess.Popen[bytes] | None = None
        self.killed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}{self.path}"
        return self.url

    def follow(self, process: subprocess.Popen[bytes]) -> None:
        """A new process behind the proxy, unarmed: everything it sends goes through."""
        self.victim, self.budget, self.writes, self.polls = process, None, 0, 0
        self.killed = asyncio.Event()

    def arm(self, budget: int) -> None:
        """Let `budget` more writes through; kill the process at the next one."""
        self.budget, self.writes = budget, 0

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    def _allowed(self, name: str) -> bool:
        """Whether `name` may go through; kills the process when the budget is spent."""
        if self.killed.is_set():
            return False
        if name == "XREADGROUP":
            self.polls += 1
        if name not in WRITES or self.budget is None:
            return True
        if self.writes < self.budget:
            self.writes += 1
            return True
        assert self.victim is not None
        os.kill(self.victim.pid, signal.SIGKILL)
        self.killed.set()
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream_reader, upstream = await asyncio.open_connection(self.host, self.port)
        back = asyncio.ensure_future(_pump(upstream_reader, writer))
        try:
            while (command := await _command(reader)) is not None:
                name, raw = command
                if not self._allowed(name):
                    break
                upstream.write(raw)
                await upstream.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            back.cancel()
            for end in (upstream, writer):
                end.close()
            self._tasks.discard(task)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65_536):
            writer.write(data)
            await writer.drain()
