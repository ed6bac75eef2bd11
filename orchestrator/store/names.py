"""People's display names as the chat platforms gave them, cached (`handlers.names` says
when to ask): one string key per person, `<prefix>:names:<platform>:<tenant>:<user>`,
"" for a person the platform could not name."""

from __future__ import annotations

from redis.asyncio import Redis

from orchestrator.store.keys import Keys


class NameCache:
    """Names by platform, tenant and user, each kept for the time it is given."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._prefix = keys.prefix

    def key(self, platform: str, tenant: str, user: str) -> str:
        return f"{self._prefix}:names:{platform}:{tenant}:{user}"

    async def name(self, platform: str, tenant: str, user: str) -> str | None:
        """The name kept for the person ("" when the platform had none); None if none is kept."""
        cached = await self._redis.get(self.key(platform, tenant, user))
        if cached is None:
            return None
        return cached.decode() if isinstance(cached, bytes) else str(cached)

    async def keep(self, platform: str, tenant: str, user: str, name: str, *, ttl_s: int) -> None:
        """Keep `name` for the person for `ttl_s` seconds."""
        await self._redis.set(self.key(platform, tenant, user), name, ex=ttl_s)
