"""A local page receiver (a generic webhook and PagerDuty's Events API v2) on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

LOCAL = ("127.0.0.1/32",)
"""The receiver's network, for a pager's `allow_private` (loopback is refused otherwise)."""


class PageReceiver:
    """Records every JSON body POSTed to it; answers like PagerDuty (202)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.url = ""

    async def _post(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.json_response({"status": "success", "message": "Event processed"}, status=202)


@asynccontextmanager
async def page_receiver() -> AsyncIterator[PageReceiver]:
    receiver = PageReceiver()
    application = web.Application()
    application.router.add_post("/{tail:.*}", receiver._post)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
