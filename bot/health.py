"""Probes for the processes that serve no HTTP of their own (`baton worker`, `baton clock`):
with BATON_HEALTH_PORT set, a tiny server answers an orchestrator's checks.

- `GET /healthz`: liveness. It answers from the process's own event loop, so an answer means
  the loop runs; a loop stuck in a blocking call cannot answer, and the probe times out.
- `GET /readyz`: readiness, 503 while Redis does not take writes (gone or full): the process
  can do nothing useful then, yet restarting it would not help, so it is not a liveness fault.
- `GET /metrics`: the same numbers as `baton web`'s (they live in Redis), behind
  BATON_METRICS_TOKEN when set: a Prometheus can scrape any process.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.bootstrap import App
from bot.metrics_http import add_metrics
from bot.startup import serve_until

APP_KEY = web.AppKey("baton", App)
NAME_KEY = web.AppKey("process", str)


def health_app(baton: App, process: str) -> web.Application:
    application = web.Application()
    application[APP_KEY] = baton
    application[NAME_KEY] = process
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    add_metrics(application, baton)
    return application


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"process": request.app[NAME_KEY], "alive": True})


async def readyz(request: web.Request) -> web.Response:
    problem = await request.app[APP_KEY].capacity.current(max_age_s=0)
    body = {"process": request.app[NAME_KEY], "redis": problem or "ok"}
    return web.json_response(body, status=503 if problem else 200)


async def serve_health(baton: App, stop: asyncio.Event, *, process: str, port: int) -> None:
    """Serve the probes on `port` (the configured host) until `stop`."""
    await serve_until(
        health_app(baton, process),
        stop,
        host=baton.settings.host,
        port=port,
        setting="BATON_HEALTH_PORT",
        serves="health probes (/healthz, /readyz, /metrics)",
    )
