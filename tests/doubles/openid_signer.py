"""A local double of the Bot Framework's token signer: OpenID metadata and signing keys.

`SignerDouble` publishes `/.well-known/openid-configuration` (whose `jwks_uri` points at its
own `/keys`) and mints RS256 tokens as the Bot Framework's channel service signs them, with a
published key or with one it keeps to itself. `SilentServer` accepts connections and never
answers: an endpoint that is reachable but silent.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

CHANNEL_ISSUER = "https://api.botframework.com"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
            "endorsements": ["msteams"],
        }


@dataclass
class SignerDouble:
    """Start with `await signer.start()`; `metadata_url` is where Baton reads the keys."""

    published: SigningKey = field(default_factory=lambda: SigningKey("published-key"))
    unpublished: SigningKey = field(default_factory=lambda: SigningKey("unpublished-key"))
    fetches: int = 0
    down: bool = False
    """Answer every fetch 503 (still counted)."""
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def metadata_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/openid-configuration"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._metadata)
        app.router.add_get("/keys", self._keys)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metadata(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if self.down:
            return web.json_response({"error": "unavailable"}, status=503)
        return web.json_response(
            {"issuer": CHANNEL_ISSUER, "jwks_uri": f"http://127.0.0.1:{self.port}/keys"}
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.published.jwk()]})

    def token(
        self, app_id: str, service_url: str, *, key: SigningKey | None = None, ttl_s: int = 600
    ) -> str:
        """A channel token for `app_id`, signed by `key` (the published one by default)."""
        signer = key or self.published
        now = int(time.time())
        claims = {
            "iss": CHANNEL_ISSUER,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": now - 5,
            "iat": now - 5,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, signer.private, algorithm="RS256", headers={"kid": signer.kid})


@dataclass
class SilentServer:
    """Accepts TCP connections and reads what is sent, but never answers."""

    port: int = 0
    connections: int = 0
    _server: asyncio.Server | None = None
    _held: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def metadata_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/openid-configuration"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._held.append(writer)
        while await reader.read(4096):
            pass

    async def stop(self) -> None:
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def baton_web_code(metadata_url: str) -> str:
    """`python -c` code for `baton web` reading the Bot Framework's keys (channel and Azure
    AD alike) from `metadata_url` instead of Microsoft's."""
    return (
        "import bot.teams.auth as auth; "
        f"auth.CHANNEL_METADATA_URL = auth.AAD_METADATA_URL = {metadata_url!r}; "
        "from bot.cli import main; main()"
    )
