"""The delivery ledger in Redis (`orchestrator.connectors.ledger` says what it records):
one hash per idempotency key, `<prefix>:deliveries:<key>`, item -> state, kept `KEEP_S`."""

from __future__ import annotations

from redis.asyncio import Redis

from orchestrator.connectors.ledger import KEEP_S, SENDING, SENT


class RedisDeliveryLedger:
    """The ledger in Redis: one hash per idempotency key, item -> state (a `DeliveryLedger`)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self.prefix = prefix

    def _hash(self, key: str) -> str:
        return f"{self.prefix}:deliveries:{key}"

    async def claim(self, *, key: str, item: str) -> str:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hsetnx(self._hash(key), item, SENDING)
        pipe.hget(self._hash(key), item)
        pipe.expire(self._hash(key), KEEP_S)
        created, state, _ = await pipe.execute()
        if created:
            return ""
        return state.decode() if isinstance(state, bytes) else str(state)

    async def confirm(self, *, key: str, item: str) -> None:
        await self._redis.hset(self._hash(key), item, SENT)

    async def release(self, *, key: str, item: str) -> None:
        await self._redis.hdel(self._hash(key), item)

    async def states(self, key: str) -> dict[str, str]:
        """Every item's state for `key` (for tests and support)."""
        raw = await self._redis.hgetall(self._hash(key))
        return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
