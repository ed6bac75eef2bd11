"""Where `GET /metrics` is served and who may read it.

`baton web` serves it on PORT, or with BATON_METRICS_PORT on that port only (a second
site of the same process, so the public port need not expose it); `baton worker` and
`baton clock` serve it beside their probes on BATON_HEALTH_PORT. With BATON_METRICS_TOKEN
set, a scrape must carry `Authorization: Bearer <token>` (compared in constant time),
else it gets 401.
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web

from bot.bootstrap import App
from bot.metrics import CONTENT_TYPE, exposition, snapshot
from bot.startup import serve_until

METRICS_KEY = web.AppKey("baton_metrics", App)
REALM = 'Bearer realm="baton-metrics"'


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an Authorization header carries the token (always, when none is set)."""
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Prometheus text format, computed from Redis now (see bot/metrics.py)."""
    baton = request.app[METRICS_KEY]
    if not authorized(request.headers.get("Authorization"), baton.settings.metrics_token):
        return web.Response(
            status=401, text="a bearer token is required\n", headers={"WWW-Authenticate": REALM}
        )
    snap = await snapshot(baton.runtime.ctx)
    return web.Response(body=exposition(snap), headers={"Content-Type": CONTENT_TYPE})


def add_metrics(application: web.Application, baton: App) -> None:
    """Route GET /metrics on `application`."""
    application[METRICS_KEY] = baton
    application.router.add_get("/metrics", metrics_endpoint)


async def serve_metrics(baton: App, stop: asyncio.Event, *, host: str, port: int) -> None:
    """Serve GET /metrics alone on `port` until `stop`."""
    application = web.Application()
    add_metrics(application, baton)
    await serve_until(
        application,
        stop,
        host=host,
        port=port,
        setting="BATON_METRICS_PORT",
        serves="metrics (/metrics)",
    )
