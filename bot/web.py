"""The one aiohttp server of `baton web` (and `baton run`).

The composition root passes the surfaces to mount (each chat platform's, the case hooks);
each returns a line saying whether it is on, so start-up tells the operator what is served.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from collections.abc import Sequence

from aiohttp import web
from aiohttp.payload import Payload
from aiohttp.typedefs import Handler
from redis.exceptions import RedisClusterException, RedisError

from bot import busy
from bot.bootstrap import App
from bot.metrics_http import add_metrics, serve_metrics
from bot.platform import Surface
from handlers.texts import SOMETHING_WRONG
from orchestrator.runtime import logcontext, tracing

log = logging.getLogger("baton.web")

BATON_KEY: web.AppKey[App] = web.AppKey("baton", App)


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every log line made while answering carries the request's id (given or made up)."""
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
    with logcontext.bound(request_id=request_id[:64]):
        response = await handler(request)
    response.headers["X-Request-Id"] = request_id[:64]
    return response


@web.middleware
async def traced(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request that gives Baton work starts a trace (or continues the caller's, from
    its `traceparent` header); the jobs it enqueues carry it on (`orchestrator.runtime.tracing`)."""
    if not tracing.enabled() or not busy.is_chat(request.path):
        return await handler(request)
    attributes = {"http.request.method": request.method, "url.path": request.path}
    with tracing.span(
        f"{request.method} {request.path}",
        kind="server",
        headers={k.lower(): v for k, v in request.headers.items()},
        attributes=attributes,
    ) as span:
        response = await handler(request)
        span.set_attribute("http.response.status_code", response.status)
        return response


@web.middleware
async def redis_refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While Redis takes no new work (full, or gone), a person who writes to Baton is told
    so in their platform's way (`bot.busy`), instead of "Something went wrong" or a 500.
    Once known (by `/readyz` or an earlier refusal) the request is not even tried: a Teams
    turn would otherwise post that generic apology before this could answer."""
    if not busy.is_chat(request.path):
        return await handler(request)
    capacity = request.app[BATON_KEY].capacity
    if await capacity.known() is None:
        try:
            response = await handler(request)
        except RedisError as error:
            if await capacity.saw(error) is None:
                raise
        else:
            if not _may_be_refused(response) or await capacity.current(max_age_s=0) is None:
                return response
    return await busy.answer(request, request.app[BATON_KEY])


def _may_be_refused(response: web.StreamResponse) -> bool:
    """A 5xx, or Slack's acknowledgement carrying the generic apology: look at Redis again."""
    if response.status >= 500:
        return True
    body = response.body if isinstance(response, web.Response) else None
    if isinstance(body, Payload):  # Bolt's answers come as a string payload
        return SOMETHING_WRONG in body.decode()
    return isinstance(body, bytes) and SOMETHING_WRONG.encode() in body


async def healthz(request: web.Request) -> web.Response:
    """Liveness; with `?ready=1`, readiness (the same as `/readyz`)."""
    if request.query.get("ready") in ("1", "true"):
        return await readyz(request)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when Redis takes writes (not full, not gone). The shared job backlog is
    reported, never judged: it is the same for every replica, so failing on it would take
    them all out of the load balancer at once while none of them is at fault (a long
    backlog is a Prometheus alert on `baton_job_backlog`)."""
    baton = request.app[BATON_KEY]
    problem = await baton.capacity.current(max_age_s=0)
    if problem is not None:
        return _not_ready(problem)
    try:
        await baton.redis.ping()
        backlog = await baton.runtime.ctx.queue.backlog()
    except (RedisError, RedisClusterException, OSError) as error:
        return _not_ready(f"redis unavailable: {error}")
    return web.json_response({"status": "ready", "backlog": backlog})


def _not_ready(reason: str) -> web.Response:
    log.warning("not ready: %s", reason)
    return web.json_response({"status": "unavailable", "reason": reason}, status=503)


async def build_web_app(
    baton: App, surfaces: Sequence[Surface]
) -> tuple[web.Application, list[str]]:
    """The server's routes: probes, metrics (unless on their own port) and `surfaces`, in
    order; with the start-up line each surface said."""
    application = web.Application(
        client_max_size=1024 * 1024, middlewares=[request_ids, traced, redis_refusals]
    )
    application[BATON_KEY] = baton
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    if baton.settings.metrics_port is None:
        add_metrics(application, baton)
    notes = [await mount(application, baton) for mount in surfaces]
    return application, notes


async def serve_web(
    baton: App,
    stop: asyncio.Event,
    *,
    surfaces: Sequence[Surface],
    port: int,
    host: str = "0.0.0.0",
) -> None:
    """Serve `surfaces` until `stop` is set."""
    application, notes = await build_web_app(baton, surfaces)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    # What start-up made (modules, settings, the app) lives as long as the process: keep
    # it out of the collector's full passes, which would otherwise pause requests to scan it.
    gc.freeze()
    for note in notes:
        log.info(note)
    log.info("serving on port %d", port)
    try:
        if baton.settings.metrics_port is None:
            await stop.wait()
        else:  # /metrics alone on its own port, served by this process
            await serve_metrics(baton, stop, host=host, port=baton.settings.metrics_port)
    finally:
        await runner.cleanup()
