"""Connectors: how Baton reads metrics from and acts on a business's systems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from orchestrator.catalog import Action, Connection, Metric, Workspace
from orchestrator.errors import ConfigError


class Connector(Protocol):
    """The port every connection kind implements (what it cannot do, it refuses)."""

    name: str

    async def measure(self, *, metric: Metric) -> float:
        """Read one number."""
        ...

    async def fetch(self, *, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Read rows (read-only)."""
        ...

    async def perform(
        self,
        *,
        action: Action,
        params: Mapping[str, Any],
        rows: list[dict[str, Any]],
        key: str,
        shadow: bool,
    ) -> dict[str, Any]:
        """Do the action once per idempotency `key`; in shadow, only say what would be done."""
        ...

    async def close(self) -> None: ...


class Connectors:
    """The workspace's connections, opened lazily, by name."""

    def __init__(self, workspace: Workspace, env: Mapping[str, str]) -> None:
        self._workspace = workspace
        self._env = env
        self._open: dict[str, Connector] = {}

    def get(self, name: str) -> Connector:
        if name not in self._open:
            self._open[name] = _build(name, self._workspace.connections[name], self._env)
        return self._open[name]

    async def close(self) -> None:
        for connector in self._open.values():
            await connector.close()
        self._open.clear()


def _build(name: str, connection: Connection, env: Mapping[str, str]) -> Connector:
    if connection.kind == "sql":
        from orchestrator.connectors.sql import SqlConnector

        return SqlConnector(name, connection, env)
    raise ConfigError(f"connections.{name}: kind {connection.kind!r} is not available yet")
