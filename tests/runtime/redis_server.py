"""A Redis or Valkey server the test owns: its own port, persistence on, restartable."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from orchestrator.store.embedded import server_binary


def _binary() -> str:
    """The family the tests run on: with `REDIS_URL` set, the `redis-server` on the PATH (as
    that server); otherwise, or without one, the embedded server's binary (valkey-server)."""
    found = shutil.which("redis-server")
    if found and os.environ.get("REDIS_URL"):
        return found
    return server_binary()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """redis-server on a free port with an fsync-always append-only file in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            _binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(200):
                try:
                    if client.ping():
                        return
                except redis.exceptions.ConnectionError:
                    if self.process.poll() is not None:
                        break
                    time.sleep(0.05)  # bounded wait for the server process to listen
        finally:
            client.close()
        raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}")

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        if self.process is None:
            return
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process = None
