"""The one aiohttp server of `baton web` (and `baton run`).

Chat surfaces mount their routes through `SURFACES`; each returns a line saying whether it
is on, so start-up tells the operator what is served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.bootstrap import App

log = logging.getLogger("baton.web")

BATON_KEY: web.AppKey[App] = web.AppKey("baton", App)

Surface = Callable[[web.Application, App], Awaitable[str]]
"""Mounts a chat surface's routes; returns a one-line status for the start-up banner."""

SURFACES: list[Surface] = []
"""Chat surfaces, in mount order. Each platform module appends its `mount` here."""


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def build_web_app(
    baton: App, surfaces: list[Surface] | None = None
) -> tuple[web.Application, list[str]]:
    application = web.Application(client_max_size=1024 * 1024)
    application[BATON_KEY] = baton
    application.router.add_get("/healthz", healthz)
    notes = [await mount(application, baton) for mount in (surfaces or SURFACES)]
    return application, notes


async def serve_web(baton: App, stop: asyncio.Event, *, port: int, host: str = "0.0.0.0") -> None:
    """Serve until `stop` is set."""
    application, notes = await build_web_app(baton)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    for note in notes:
        log.info(note)
    log.info("serving on port %d", port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
