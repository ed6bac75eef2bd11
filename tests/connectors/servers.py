"""Real local servers on port 0: an HTTP/webhook receiver and an SMTP server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Receiver:
    """An HTTP API and webhook receiver that verifies what it receives and dedupes by
    Idempotency-Key, as a careful receiving system does."""

    secret: str = ""
    """Signing key checked on `/hooks/...` (webhooks); other paths are a plain API."""
    token: str = ""
    fail_next: int = 0
    """Answer this many requests with 503 before accepting."""
    metric: Any = field(default_factory=lambda: {"data": {"churn": {"value": 4.25}}})
    accepted: dict[str, Any] = field(default_factory=dict)
    """Idempotency-Key -> JSON body, first delivery only."""
    deliveries: list[str] = field(default_factory=list)
    """Every Idempotency-Key received, repeats included."""
    bad_signatures: int = 0
    unauthorised: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/metrics/churn", self._get)
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        hook = request.path.startswith("/hooks")  # webhooks are signed instead
        ok = (
            hook or not self.token or request.headers.get("Authorization") == f"Bearer {self.token}"
        )
        self.unauthorised += 0 if ok else 1
        return ok

    async def _get(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        return web.json_response(self.metric)

    async def _post(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        raw = await request.read()
        if self.secret and request.path.startswith("/hooks"):
            expected = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, request.headers.get("X-Baton-Signature", "")):
                self.bad_signatures += 1
                return web.Response(status=401, text="bad signature")
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return web.Response(status=400, text="no Idempotency-Key")
        self.deliveries.append(key)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503)
        self.accepted.setdefault(
            key, {"path": request.raw_path, "json": json.loads(raw or b"null")}
        )
        return web.json_response({"ok": True})


@dataclass
class Mailbox:
    """An aiosmtpd server that records every accepted message."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)
    """(recipient, message) for every message accepted."""
    defer_once: set[str] = field(default_factory=set)
    """Recipients answered `451` (try later) the first time only."""
    drop_after_data: set[str] = field(default_factory=set)
    """Recipients whose message is kept but whose answer is lost (connection dropped)."""
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="localhost"), "127.0.0.1", 0
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def to(self, recipient: str) -> list[bytes]:
        return [m for r, m in self.messages if r == recipient]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.defer_once:
            self.defer_once.discard(address)
            return "451 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        for recipient in envelope.rcpt_tos:
            self.messages.append((recipient, content))
            if recipient in self.drop_after_data:
                self.drop_after_data.discard(recipient)
                assert server.transport is not None
                server.transport.close()
        return "250 OK"
