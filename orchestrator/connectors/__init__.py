"""Connectors: how Baton reads metrics from and acts on a business's systems."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.connectors.ledger import DeliveryLedger
from orchestrator.errors import ConfigError
from orchestrator.workspace.catalog import Action, Connection, Metric, Workspace


@dataclass(frozen=True)
class Work:
    """What one step asks of a connector."""

    action: Action
    params: Mapping[str, Any]
    """The step's parameters, with the draft upstream steps wrote (`draft`)."""
    rows: list[dict[str, Any]]
    """The rows upstream steps read; an action `for_each` row runs once per row."""
    key: str
    """The step's id: the idempotency key of everything the action sends or writes."""
    shadow: bool
    """Only say what would be done."""


class Connector(Protocol):
    """The port every connection kind implements (what it cannot do, it refuses)."""

    name: str

    async def measure(self, *, metric: Metric) -> float:
        """Read one number."""
        ...

    async def fetch(self, *, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Read rows (read-only)."""
        ...

    async def perform(self, work: Work) -> dict[str, Any]:
        """Do the work's action once per idempotency key; in shadow, only say what would be
        done."""
        ...

    async def close(self) -> None:
        """Release connections and clients."""
        ...


@dataclass(frozen=True)
class Opening:
    """What every connector is opened with, besides its connection."""

    env: Mapping[str, str]
    ledger: DeliveryLedger | None = None
    read_only: bool = False
    """`baton check`: nothing may be created or written (not even an SQLite file)."""
    sqlite_on_loop: bool = False
    """A worker process: SQLite is queried on the event loop, not in a thread."""


class Connectors:
    """The workspace's connections, opened lazily, by name.

    `ledger` is where connectors that deliver (smtp, http, webhook) record what went out
    per idempotency key; without one, smtp refuses to send for real.
    """

    def __init__(
        self,
        workspace: Workspace,
        env: Mapping[str, str],
        *,
        ledger: DeliveryLedger | None = None,
        read_only: bool = False,
        sqlite_on_loop: bool = False,
    ) -> None:
        self._workspace = workspace
        self._opening = Opening(env, ledger, read_only, sqlite_on_loop)
        self._open: dict[str, Connector] = {}

    @property
    def env(self) -> Mapping[str, str]:
        """The environment `${ENV_VAR}` references resolve in (case source secrets too)."""
        return self._opening.env

    def get(self, name: str) -> Connector:
        """The open connector for connection `name`, opened on first use."""
        if name not in self._open:
            connection = self._workspace.connections[name]
            self._open[name] = _build(name, connection, self._opening)
        return self._open[name]

    async def close(self) -> None:
        for connector in self._open.values():
            await connector.close()
        self._open.clear()


Builder = Callable[[str, Connection, Opening], Connector]


def _sql(name: str, connection: Connection, opening: Opening) -> Connector:
    from orchestrator.connectors.sql import SqlConnector

    return SqlConnector(
        name,
        connection,
        opening.env,
        read_only=opening.read_only,
        sqlite_on_loop=opening.sqlite_on_loop,
    )


def _http(name: str, connection: Connection, opening: Opening) -> Connector:
    from orchestrator.connectors.http import HttpConnector

    return HttpConnector(name, connection, opening.env, opening.ledger)


def _smtp(name: str, connection: Connection, opening: Opening) -> Connector:
    from orchestrator.connectors.smtp import SmtpConnector

    return SmtpConnector(name, connection, opening.env, opening.ledger)


def _webhook(name: str, connection: Connection, opening: Opening) -> Connector:
    from orchestrator.connectors.webhook import WebhookConnector

    return WebhookConnector(name, connection, opening.env, opening.ledger)


# Imported lazily so a workspace pays only for the drivers it uses.
BUILDERS: dict[str, Builder] = {"sql": _sql, "http": _http, "smtp": _smtp, "webhook": _webhook}


def _build(name: str, connection: Connection, opening: Opening) -> Connector:
    builder = BUILDERS.get(connection.kind)
    if builder is None:
        # `chat` connections are posted by the systems lane through the chat gateway.
        raise ConfigError(f"connections.{name}: kind {connection.kind!r} has no connector")
    return builder(name, connection, opening)
