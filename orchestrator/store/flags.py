"""Flags: small marks in Redis that say something happened (once-only offers, a page that
went out, a fallback already announced, a run of failures), each under a key its owner
names (`Keys.flag`, `Keys.dedupe`) and the same key its commits write.

The core asks what a mark means through these operations; it never holds the client.
"""

from __future__ import annotations

from redis.asyncio import Redis


class Flags:
    """The marks of one store: one key each, a string, a counter or a set of marks."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def raised(self, key: str) -> bool:
        """Whether the mark at `key` is there (set and not expired)."""
        return bool(await self._redis.exists(key))

    async def raise_once(self, key: str, *, value: str = "1", ttl_s: int) -> bool:
        """Set the mark unless it is there; True when this call set it."""
        return bool(await self._redis.set(key, value, nx=True, ex=ttl_s))

    async def swap(self, key: str, value: str, *, ttl_s: int) -> str | None:
        """Set the mark to `value` for `ttl_s`; what it held before (None when unset)."""
        before = await self._redis.set(key, value, ex=ttl_s, get=True)
        return _text(before) if isinstance(before, bytes | str) else None

    async def lower(self, key: str) -> None:
        """Drop the mark (a counter starts again from zero)."""
        await self._redis.delete(key)

    async def count(self, key: str, *, ttl_s: int) -> int:
        """Add one to the counter at `key`, kept `ttl_s` after its last count; the count."""
        counted = int(await self._redis.incr(key))
        await self._redis.expire(key, ttl_s)
        return counted

    async def marks(self, key: str) -> list[str]:
        """The marks the set at `key` holds, sorted."""
        return sorted(_text(member) for member in await self._redis.smembers(key))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
