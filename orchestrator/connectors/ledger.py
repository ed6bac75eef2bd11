"""The delivery ledger: where connectors record, per idempotency key and recipient, what
they have already delivered, so a retried step never delivers anything twice.

States of one item (a recipient, or one request of a batch):

- absent: never tried, or tried and refused for certain (the server answered "no");
- `sending`: claimed just before delivery; the answer never came (a crash, a dropped
  connection while the server had the message). Nobody knows if it arrived, so a retry
  does not send it again; the receipt lists it as unconfirmed;
- `sent`: the server accepted it.

The ledger in Redis is `orchestrator.store.delivery_ledger.RedisDeliveryLedger`.
"""

from __future__ import annotations

from typing import Protocol

SENDING = "sending"
SENT = "sent"
KEEP_S = 90 * 86_400
"""How long records are kept: longer than any step is retried."""


class DeliveryLedger(Protocol):
    """A durable record of deliveries, keyed by idempotency key and item."""

    async def claim(self, *, key: str, item: str) -> str:
        """Mark `item` as sending; returns its earlier state (`""` when newly claimed)."""
        ...

    async def confirm(self, *, key: str, item: str) -> None:
        """The server accepted `item`."""
        ...

    async def release(self, *, key: str, item: str) -> None:
        """The server refused `item` for certain: a retry may send it again."""
        ...
