"""`POST /hooks/<source>`: signed events that open cases of standing outcomes.

The request is verified (HMAC-SHA256 of the raw body under the source's secret) before
anything is read or recorded: an unsigned or forged event is answered 401 and leaves no
trace. A verified event opens its case in one commit that also queues the work, so the
answer is fast and a redelivery is recognised (`"duplicate": true`) and not worked again.
"""

from __future__ import annotations

from aiohttp import web

from bot.bootstrap import App
from bot.web import BATON_KEY, SURFACES
from orchestrator.case_sources import BadEvent, receive, signed
from orchestrator.errors import ConfigError


async def hook(request: web.Request) -> web.Response:
    baton = request.app[BATON_KEY]
    name = request.match_info["source"]
    spec = baton.workspace.case_sources.get(name)
    if spec is None or spec.kind != "webhook":
        return web.json_response({"error": f"no webhook case source {name!r}"}, status=404)
    body = await request.read()
    try:
        verified = signed(
            spec, baton.connectors.env, body, request.headers.get(spec.signature_header)
        )
    except ConfigError:
        return web.json_response({"error": "this source's secret is not configured"}, status=503)
    if not verified:
        return web.json_response({"error": "bad signature"}, status=401)
    try:
        case = await receive(baton.runtime.cases, name, spec, body)
    except BadEvent as error:
        return web.json_response({"error": str(error)}, status=400)
    if case is None:
        owner = await baton.runtime.cases.owner(name)
        answer = {"duplicate": owner is not None, "case": None}
        return web.json_response(answer, status=200 if owner is not None else 202)
    return web.json_response({"duplicate": False, "case": case.id}, status=202)


async def mount(application: web.Application, baton: App) -> str:
    """Mount the hook route; say which case sources take events."""
    application.router.add_post("/hooks/{source}", hook)
    names = [n for n, s in baton.workspace.case_sources.items() if s.kind == "webhook"]
    return "case hooks: " + (", ".join(f"/hooks/{n}" for n in names) or "none declared")


SURFACES.append(mount)
