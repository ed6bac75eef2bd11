"""A local double of the Bot Framework connector (the `serviceUrl` side), on port 0.

It records what Baton sends the way Teams' connector receives it: new activities
(`POST /v3/conversations/{id}/activities`), replies (`POST .../activities/{replyToId}`),
updates in place (`PUT .../activities/{activityId}`) and new 1:1 chats
(`POST /v3/conversations`). It can fail the next calls with a status, like a throttled channel,
or every call until it is up again, like an outage; and it refuses a card over Teams' size
limit (about 28 KB of card JSON) with 413 `MessageSizeTooBig`, as Teams does.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CARD_LIMIT = 28 * 1024
"""Bytes of an Adaptive Card's JSON Teams takes in one message."""
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


def texts_of(element: Any) -> list[str]:
    """Every piece of text an Adaptive Card (or any part of one) shows, in order."""
    if isinstance(element, list):
        return [text for item in element for text in texts_of(item)]
    if not isinstance(element, dict):
        return []
    if element.get("type") in ("TextRun", "TextBlock"):
        return [str(element.get("text", ""))]
    if element.get("type") == "FactSet":
        return [f"{f['title']} {f['value']}" for f in element.get("facts", [])]
    found: list[str] = []
    for key in ("body", "inlines", "columns", "items"):
        found += texts_of(element.get(key))
    return found


def _cards(body: dict[str, Any]) -> list[Any]:
    return [
        a.get("content") for a in body.get("attachments") or [] if a.get("contentType") == ADAPTIVE
    ]


@dataclass
class Recorded:
    kind: str
    """`send`, `reply`, `update` or `create`."""
    conversation: str
    activity_id: str
    body: dict[str, Any]

    @property
    def card(self) -> dict[str, Any] | None:
        """The Adaptive Card this activity carries, if any."""
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content: dict[str, Any] = attachment["content"]
                return content
        return None

    @property
    def title(self) -> str:
        card = self.card
        if card is None:
            return str(self.body.get("text", ""))
        return texts_of(card["body"][0])[0]


@dataclass
class BotConnectorDouble:
    """Start with `await double.start()`; `service_url` goes into posted activities."""

    recorded: list[Recorded] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    """Statuses to answer the next calls with, first to last."""
    retry_after: str | None = None
    """The Retry-After header sent with each 429 of `failures` (seconds), as Teams does."""
    attempts: int = 0
    outage: int | None = None
    """While set, every call is answered with this status."""
    too_big: int = 0
    """Activities refused for their size."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    service_url: str = ""

    async def start(self) -> str:
        application = web.Application()
        base = "/v3/conversations"
        application.router.add_post(base, self._create)
        application.router.add_post(base + "/{conversation}/activities", self._send)
        application.router.add_post(base + "/{conversation}/activities/{activity}", self._reply)
        application.router.add_put(base + "/{conversation}/activities/{activity}", self._update)
        self._runner = web.AppRunner(application, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.service_url = f"http://127.0.0.1:{port}/"
        return self.service_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def down(self, status: int = 500) -> None:
        """Answer every call with `status` until `up()`."""
        self.outage = status

    def up(self) -> None:
        self.outage = None

    def of(self, kind: str) -> list[Recorded]:
        return [r for r in self.recorded if r.kind == kind]

    def titles(self) -> list[str]:
        return [r.title for r in self.recorded]

    async def _record(self, request: web.Request, kind: str) -> web.Response:
        self.attempts += 1
        if self.outage is not None:
            return web.json_response({"error": {"code": "ServiceError"}}, status=self.outage)
        if self.failures:
            status = self.failures.pop(0)
            wait = {"Retry-After": self.retry_after} if status == 429 and self.retry_after else {}
            return web.json_response({"error": {"code": "Throttled"}}, status=status, headers=wait)
        body = await request.json()
        if any(len(json.dumps(card).encode()) > CARD_LIMIT for card in _cards(body)):
            self.too_big += 1
            return web.json_response({"error": {"code": "MessageSizeTooBig"}}, status=413)
        activity_id = request.match_info.get("activity") if kind == "update" else None
        activity_id = activity_id or f"m{next(self._ids)}"
        conversation = request.match_info["conversation"]
        self.recorded.append(Recorded(kind, conversation, activity_id, body))
        return web.json_response({"id": activity_id})

    async def _send(self, request: web.Request) -> web.Response:
        return await self._record(request, "send")

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._record(request, "reply")

    async def _update(self, request: web.Request) -> web.Response:
        return await self._record(request, "update")

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        conversation = f"1on1-{next(self._ids)}"
        self.recorded.append(Recorded("create", conversation, "", body))
        return web.json_response({"id": conversation})
