"""Slack installations in Redis, for an app installed into many workspaces.

`RedisInstallationStore` is Bolt's `AsyncInstallationStore` over Baton's Redis: one hash per
team (or per org, for an org-wide install) holding the latest installation and its bot,
each encrypted with Fernet under `BATON_SLACK_TOKEN_KEY`, so a copy of Redis (a dump, a
replica, a backup) holds no usable token. `RedisOAuthStateStore` keeps the `state` of each
install in progress for as long as Slack's redirect may take, consumed once.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from redis.asyncio import Redis
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from orchestrator.errors import ConfigError
from orchestrator.store.keys import Keys

log = logging.getLogger("baton.slack")

INSTALLATION = "installation"
BOT = "bot"
STATE_TTL_S = 600
"""How long an install link stays good: Bolt's default, long enough to read Slack's page."""


def token_cipher(key: str | None) -> Fernet:
    """The cipher for tokens at rest; a missing or malformed key fails start-up."""
    if not key:
        raise ConfigError(
            "BATON_SLACK_TOKEN_KEY is required with SLACK_CLIENT_ID: a Fernet key, e.g. from "
            'python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        )
    try:
        return Fernet(key.encode())
    except ValueError:
        raise ConfigError(
            "BATON_SLACK_TOKEN_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None


def tenant_of(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
) -> str:
    """Whose installation: the org for an org-wide install, else the team."""
    tenant = enterprise_id if is_enterprise_install else team_id
    return tenant or enterprise_id or "none"


class RedisInstallationStore(AsyncInstallationStore):
    """Bolt's installation store contract over Redis, encrypted at rest."""

    def __init__(self, redis: Redis, keys: Keys, cipher: Fernet) -> None:
        self.redis = redis
        self.keys = keys
        self.cipher = cipher

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        tenant = tenant_of(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        await self.redis.hset(
            self.keys.slack_installation(tenant),
            mapping={
                INSTALLATION: self._seal(installation.__dict__),
                BOT: self._seal(installation.to_bot().__dict__),
            },
        )

    async def async_save_bot(self, bot: Bot) -> None:
        tenant = tenant_of(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        await self.redis.hset(self.keys.slack_installation(tenant), BOT, self._seal(bot.__dict__))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        tenant = tenant_of(enterprise_id, team_id, is_enterprise_install)
        found = await self._open(tenant, BOT)
        return Bot(**found) if found is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The team's latest installation; asked for one person's, it is that person's only
        if they installed it (Baton asks for no user tokens)."""
        tenant = tenant_of(enterprise_id, team_id, is_enterprise_install)
        found = await self._open(tenant, INSTALLATION)
        if found is None or (user_id is not None and found.get("user_id") != user_id):
            return None
        return Installation(**found)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.redis.hdel(
            self.keys.slack_installation(tenant_of(enterprise_id, team_id, False)), BOT
        )

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        key = self.keys.slack_installation(tenant_of(enterprise_id, team_id, False))
        if user_id is None:
            await self.redis.delete(key)
            return
        found = await self._open(tenant_of(enterprise_id, team_id, False), INSTALLATION)
        if found is not None and found.get("user_id") == user_id:
            await self.redis.hdel(key, INSTALLATION)

    async def bot_token(self, team: str) -> str | None:
        """The bot token Baton posts to `team` with; None when the team has not installed."""
        bot = await self.async_find_bot(enterprise_id=None, team_id=team)
        return bot.bot_token if bot is not None else None

    def _seal(self, fields: dict[str, Any]) -> bytes:
        return self.cipher.encrypt(json.dumps(fields, default=str).encode())

    async def _open(self, tenant: str, field: str) -> dict[str, Any] | None:
        sealed = await self.redis.hget(self.keys.slack_installation(tenant), field)
        if sealed is None:
            return None
        try:
            opened: dict[str, Any] = json.loads(self.cipher.decrypt(sealed))
        except InvalidToken:
            # Sealed under another key: as good as not installed (reinstall to fix).
            log.error(
                "the Slack installation of %s does not open with BATON_SLACK_TOKEN_KEY", tenant
            )
            return None
        return opened


class RedisOAuthStateStore(AsyncOAuthStateStore):
    """The OAuth `state` of each install in progress: issued with a TTL, consumed once."""

    def __init__(self, redis: Redis, keys: Keys, expiration_s: int = STATE_TTL_S) -> None:
        self.redis = redis
        self.keys = keys
        self.expiration_s = expiration_s

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        await self.redis.set(self.keys.slack_oauth_state(state), "1", ex=self.expiration_s)
        return state

    async def async_consume(self, state: str) -> bool:
        """True once for a state issued and not expired: a replayed redirect is refused."""
        return bool(await self.redis.delete(self.keys.slack_oauth_state(state)))
