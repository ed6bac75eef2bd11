"""Which credentials Teams needs, whether Baton may serve Teams without them, and how an
inbound request's Bearer token is verified: never blocking the server, never answering 500.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import jwt
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import AuthenticationConstants, JwtTokenExtractor

from bot.teams.signing_keys import FETCH_TIMEOUT_S, SigningKeys, Unverified
from config.settings import Settings

log = logging.getLogger("baton.teams")

CHANNEL_METADATA_URL = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
"""Where the keys of the Bot Framework's channel tokens are read (tests point it elsewhere)."""
AAD_METADATA_URL = AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
"""Where the keys of Azure AD tokens (the Emulator's, skills') are read."""
CHANNEL_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
AUTHENTICATE_TIMEOUT_S = FETCH_TIMEOUT_S + 1.0
MAX_TOKEN_CHARS = 16 * 1024
_JWT = re.compile(r"[\w-]+\.[\w-]+\.[\w-]*", re.ASCII)
ALGORITHMS = ["RS256"]
LEEWAY_S = 5 * 60

_NEEDED = {
    "multitenant": ("MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD"),
    "singletenant": ("MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "MICROSOFT_APP_TENANT_ID"),
    "userassignedmsi": ("MICROSOFT_APP_ID", "MICROSOFT_APP_TENANT_ID"),
}


class AuthMode(Enum):
    AUTHENTICATED = "authenticated"
    OPEN = "open"
    """Inbound authentication off: development only, for the Emulator and local tests."""
    REFUSED = "refused"


@dataclass(frozen=True)
class BotConfiguration:
    """The attribute names botbuilder's configuration-based factories read."""

    APP_ID: str | None
    APP_PASSWORD: str | None
    APP_TENANTID: str | None
    APP_TYPE: str


def missing_variables(settings: Settings) -> list[str]:
    """Environment variables the configured app type needs but are unset."""
    values = {
        "MICROSOFT_APP_ID": settings.microsoft_app_id,
        "MICROSOFT_APP_PASSWORD": settings.microsoft_app_password,
        "MICROSOFT_APP_TENANT_ID": settings.microsoft_app_tenant_id,
    }
    needed = _NEEDED.get(settings.microsoft_app_type.lower(), _NEEDED["multitenant"])
    return [name for name in needed if not values[name]]


def auth_mode(settings: Settings) -> AuthMode:
    if not missing_variables(settings):
        return AuthMode.AUTHENTICATED
    if settings.env == "development" and not settings.microsoft_app_id:
        return AuthMode.OPEN
    return AuthMode.REFUSED


def bot_configuration(settings: Settings) -> BotConfiguration:
    return BotConfiguration(
        APP_ID=settings.microsoft_app_id,
        APP_PASSWORD=settings.microsoft_app_password,
        APP_TENANTID=settings.microsoft_app_tenant_id,
        APP_TYPE=settings.microsoft_app_type,
    )


def signing_keys(botbuilder_url: str, source: str) -> SigningKeys:
    """The keys botbuilder asks `botbuilder_url` for, read from `source`: put in botbuilder's
    cache of metadata objects (one per process), so its own checks never fetch them."""
    cache: dict[str, Any] = JwtTokenExtractor.metadataCache
    found = cache.get(botbuilder_url)
    if isinstance(found, SigningKeys) and found.url == source:
        return found
    keys = SigningKeys(source)
    cache[botbuilder_url] = keys
    return keys


class VerifiedAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """botbuilder's authentication from configuration, on keys that never block the loop,
    where every failure to verify a token is `Unverified` (401), within a bounded time."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(bot_configuration(settings))
        self.channel_keys = signing_keys(
            AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL, CHANNEL_METADATA_URL
        )
        self.aad_keys = signing_keys(
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL, AAD_METADATA_URL
        )

    async def verify_bearer(self, header: str | None) -> None:
        """Before the body is read: the header carries an unexpired token signed by a
        published key. botbuilder checks the rest (audience, issuer, endorsements, service
        URL) once the activity is read, in `authenticate_request`."""
        token = bearer_token(header)
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            key_id = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as error:
            raise Unverified(f"not a token: {error}") from None
        keys = self.channel_keys if claims.get("iss") == CHANNEL_ISSUER else self.aad_keys
        async with _bounded():
            key = await keys.get(key_id if isinstance(key_id, str) else None)
        try:
            jwt.decode(
                token, key.public_key, algorithms=ALGORITHMS, leeway=LEEWAY_S,
                options={"verify_aud": False},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            raise Unverified(f"the token does not verify: {error}") from None

    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        return await _unverified_unless(super().authenticate_request(activity, auth_header))

    async def authenticate_streaming_request(self, auth_header: str, channel_id: str) -> Any:
        return await _unverified_unless(
            super().authenticate_streaming_request(auth_header, channel_id)
        )

    async def authenticate_channel_request(self, auth_header: str) -> Any:
        return await _unverified_unless(super().authenticate_channel_request(auth_header))


def bearer_token(header: str | None) -> str:
    """The token of `Bearer <token>` (botbuilder's reading of the header), or `Unverified`:
    a JWT is three base64url parts, and nothing else is handed to the token library."""
    scheme, _, token = (header or "").partition(" ")
    if scheme != "Bearer" or len(token) > MAX_TOKEN_CHARS or not _JWT.fullmatch(token):
        raise Unverified("no Bearer token")
    return token


def _bounded() -> asyncio.Timeout:
    return asyncio.timeout(AUTHENTICATE_TIMEOUT_S)


async def _unverified_unless(authenticating: Any) -> Any:
    """botbuilder's verdict, where anything but success is `Unverified`: its checks raise
    bare `Exception`s, PyJWT's errors and lookup errors on tokens shaped other than it
    expects, and each of them means the same thing, a token that cannot be verified."""
    try:
        async with _bounded():
            return await authenticating
    except PermissionError:
        raise
    except TimeoutError:
        raise Unverified("verifying the token took too long") from None
    except Exception as error:  # noqa: BLE001  (see the docstring)
        log.warning("Teams token refused: %s: %s", type(error).__name__, error)
        raise Unverified("the token cannot be verified") from None
