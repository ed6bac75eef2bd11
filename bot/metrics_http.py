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
import logging

from aiohttp import web

from bot.bootstrap import App
from bot.metrics import CONTENT_TYPE, exposition, snapshot
from bot.startup import CannotStart, listen_failure

log = logging.getLogger("baton.metrics")

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
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("metrics on port %d (/metrics)", port)
        await stop.wait()
    except OSError as error:  # said as BATON_METRICS_PORT's, not PORT's
        failure = listen_failure(host, port, error)
        if isinstance(failure, CannotStart):
            raise CannotStart(f"BATON_METRICS_PORT: {failure}") from None
        raise
    finally:
        await runner.cleanup()
