"""What the connectors that deliver (http, webhook, smtp) are opened with, written once."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.connectors.guard import AddressGuard, Resolver
from orchestrator.connectors.ledger import DeliveryLedger
from orchestrator.connectors.secrecy import Secrets
from orchestrator.workspace.catalog import Connection


class DeliveringConnector:
    """A connector that sends to a host outside: its connection's secrets, the delivery
    ledger (what went out per idempotency key) and the outbound guard (which addresses
    it may reach; `resolver` is injectable for tests)."""

    def __init__(
        self,
        name: str,
        connection: Connection,
        env: Mapping[str, str],
        ledger: DeliveryLedger | None = None,
        *,
        resolver: Resolver | None = None,
    ) -> None:
        self.name = name
        self.connection = connection
        self.secrets = Secrets(name, env)
        self.ledger = ledger
        self.guard = AddressGuard(name, connection.allow_private, resolver)
        self._configure()

    def _configure(self) -> None:
        """Read what this kind needs from the connection. Secrets are expanded here, so a
        missing one fails when the connection is opened, not when it first sends."""
