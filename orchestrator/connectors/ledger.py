"""The delivery ledger: where connectors record, per idempotency key and recipient, what
they have already delivered, so a retried step never delivers anything twice.

States of one item (a recipient, or one request of a batch):

- absent: never tried, or tried and refused for certain (the server answered "no");
- `sending`: claimed just before delivery; the answer never came (a crash, a dropped
  connection while the server had the message). Nobody knows if it arrived, so a retry
  does not send it again; the receipt lists it as unconfirmed;
- `sent`: the server accepted it.
"""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

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


class RedisDeliveryLedger:
    """The ledger in Redis: one hash per idempotency key, item -> state."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _hash(self, key: str) -> str:
        return f"{self.prefix}:deliveries:{key}"

    async def claim(self, *, key: str, item: str) -> str:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hsetnx(self._hash(key), item, SENDING)
        pipe.hget(self._hash(key), item)
        pipe.expire(self._hash(key), KEEP_S)
        created, state, _ = await pipe.execute()
        if created:
            return ""
        return state.decode() if isinstance(state, bytes) else str(state)

    async def confirm(self, *, key: str, item: str) -> None:
        await self.redis.hset(self._hash(key), item, SENT)

    async def release(self, *, key: str, item: str) -> None:
        await self.redis.hdel(self._hash(key), item)

    async def states(self, key: str) -> dict[str, str]:
        """Every item's state for `key` (for tests and support)."""
        raw = await self.redis.hgetall(self._hash(key))
        return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
