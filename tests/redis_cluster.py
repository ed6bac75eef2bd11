"""A Redis Cluster the tests own: three masters from the machine's `redis-server`, each on a
free port, slots split in three and the nodes introduced to each other from Python."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

SLOTS = 16384
MASTERS = 3
READY_WITHIN_S = 30.0
NODE = (
    *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
    *("--save", "", "--appendonly", "no", "--cluster-node-timeout", "5000"),
)
"""Every node's options: cluster mode, nothing written to disk."""


def cluster_binary() -> str | None:
    """The machine's redis-server, rather than a copy inside the virtualenv (the embedded
    server's package may ship an older one)."""
    for folder in os.get_exec_path():
        if not Path(folder).resolve().is_relative_to(Path(sys.prefix).resolve()):
            found = shutil.which("redis-server", path=folder)
            if found:
                return found
    return shutil.which("redis-server")


def _free_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


class LocalCluster:
    """Three masters in `directory`, no replicas, no persistence: started, then stopped."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports = [_free_port() for _ in range(MASTERS)]
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """Any one node, as Baton takes a cluster (`redis+cluster://`)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self) -> str:
        binary = cluster_binary()
        assert binary is not None, "redis-server is needed to start a cluster"
        for port in self.ports:
            home = self.directory / str(port)
            home.mkdir(parents=True, exist_ok=True)
            self.processes.append(
                subprocess.Popen(
                    [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(home), *NODE],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        nodes = [redis.Redis(port=port) for port in self.ports]
        try:
            for node in nodes:
                _answers(node)
            self._form(nodes)
        except BaseException:
            self.stop()
            raise
        finally:
            for node in nodes:
                node.close()
        return self.url

    def _form(self, nodes: list[redis.Redis]) -> None:
        share = SLOTS // MASTERS
        for index, node in enumerate(nodes):
            last = SLOTS - 1 if index == MASTERS - 1 else (index + 1) * share - 1
            _cluster(node, "ADDSLOTS", *range(index * share, last + 1))
        for port in self.ports[1:]:
            _cluster(nodes[0], "MEET", "127.0.0.1", port)
        deadline = time.monotonic() + READY_WITHIN_S
        while not all(_ready(node) for node in nodes):
            assert time.monotonic() < deadline, "the cluster did not form"
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _answers(node: redis.Redis) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while True:
        try:
            node.ping()
            return
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "a cluster node did not start"
            time.sleep(0.05)


def _ready(node: redis.Redis) -> bool:
    """The node sees every slot served and every other node."""
    info = _cluster(node, "INFO")
    text = info.decode() if isinstance(info, bytes) else str(info)
    fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
    return fields.get("cluster_state") == "ok" and fields.get("cluster_known_nodes") == str(MASTERS)


def _cluster(node: redis.Redis, *args: object) -> object:
    """A CLUSTER subcommand, sent to one node."""
    return node.execute_command("CLUSTER", *args)  # type: ignore[no-untyped-call]
