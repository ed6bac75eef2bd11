"""People by name: the workspace file's names first, else the platform's own, cached.

Records and the audit trail keep platform ids; only what a person reads shows names. A name
comes from the chat platform (Slack `users.info`, the name Teams sends with each activity)
and is kept in Redis for a day, so a busy channel does not look a person up every time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Workspace

log = logging.getLogger("baton.names")

NAME_TTL_S = 86_400
UNKNOWN_TTL_S = 3_600
"""A person the platform could not name is asked about again after an hour, not at once."""
NOT_PEOPLE = frozenset({"policy", "system", "agent", "on-call", "the owner"})


@runtime_checkable
class NameLookup(Protocol):
    """A gateway that can name a person of its platform."""

    async def user_name(self, *, workspace: str, user: str) -> str | None: ...


class Names:
    """Names for display, through the store's name cache and the platforms' lookups."""

    def __init__(self, store: RedisStore, lookups: Mapping[str, object]) -> None:
        self.cache = store.names
        self.lookups = lookups

    async def remember(self, platform: str, tenant: str, user: str, name: str) -> None:
        """A name the platform told us with an activity (Teams' `from.name`)."""
        if name.strip() and name.strip() != user:
            await self.cache.keep(platform, tenant, user, name.strip(), ttl_s=NAME_TTL_S)

    async def named(
        self, workspace: Workspace, platform: str, tenant: str, users: Iterable[str]
    ) -> Workspace:
        """`workspace` whose `display` also knows `users` by their platform names."""
        known = workspace.people.names
        found: dict[str, str] = {}
        for user in dict.fromkeys(users):
            if not user or user in known or user in NOT_PEOPLE:
                continue
            name = await self._name(platform, tenant, user)
            if name:
                found[user] = name
        if not found:
            return workspace
        people = workspace.people.model_copy(update={"names": {**known, **found}})
        return workspace.model_copy(update={"people": people})

    async def _name(self, platform: str, tenant: str, user: str) -> str:
        cached = await self.cache.name(platform, tenant, user)
        if cached is not None:
            return cached
        lookup = self.lookups.get(platform)
        if not isinstance(lookup, NameLookup):
            return ""
        try:
            name = (await lookup.user_name(workspace=tenant, user=user) or "").strip()
        except Exception:  # a name is a nicety: never what fails a message
            log.warning("could not look up the name of %s", user, exc_info=True)
            return ""  # not remembered: the platform may well answer next time
        await self.cache.keep(
            platform, tenant, user, name, ttl_s=NAME_TTL_S if name else UNKNOWN_TTL_S
        )
        return name
