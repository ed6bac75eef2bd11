"""`POST /hooks/<source>`: signed events that open cases of standing outcomes.

The request is verified (HMAC-SHA256 of the raw body under the source's secret) before
anything is read or recorded: an unsigned or forged event is answered 401 and leaves no
trace. A verified event is then read at the door: a JSON object no deeper than
`MAX_DEPTH`, whose id can name a case everywhere a case goes (Redis keys, the
`Idempotency-Key` header of its webhook steps), or a 400. It opens its case in one commit
that also queues the work, so the answer is fast and a redelivery is recognised
(`"duplicate": true`) and not worked again.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot.bootstrap import App
from bot.inbound_json import Unreadable, read_object
from bot.web import BATON_KEY
from orchestrator.cases.catalog import CaseSource
from orchestrator.cases.sources import BadEvent, receive, signed
from orchestrator.errors import ConfigError

MAX_ID_CHARS = 128
_EVENT_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_ID_CHARS}}}")
"""Visible ASCII: what an HTTP header value, a Redis key and a chat message all carry as is."""


async def hook(request: web.Request) -> web.Response:
    baton = request.app[BATON_KEY]
    name = request.match_info["source"]
    spec = baton.workspace.case_sources.get(name)
    if spec is None or spec.kind != "webhook":
        return web.json_response({"error": f"no webhook case source {name!r}"}, status=404)
    body = await request.read()
    given = request.headers.get(spec.signature_header)
    try:
        # A signature is hex; one with other characters cannot be compared, and is no match.
        verified = (
            given is not None
            and given.isascii()
            and signed(spec, baton.connectors.env, body, given)
        )
    except ConfigError:
        return web.json_response({"error": "this source's secret is not configured"}, status=503)
    if not verified:
        return web.json_response({"error": "bad signature"}, status=401)
    try:
        check_event(spec, body)
        case = await receive(baton.runtime.cases, name, spec, body)
    except BadEvent as error:
        return web.json_response({"error": str(error)}, status=400)
    if case is None:
        owner = await baton.runtime.cases.owner(name)
        answer = {"duplicate": owner is not None, "case": None}
        return web.json_response(answer, status=200 if owner is not None else 202)
    return web.json_response({"duplicate": False, "case": case.id}, status=202)


def check_event(spec: CaseSource, body: bytes) -> None:
    """`BadEvent` unless `body` is a readable JSON object with a usable id."""
    try:
        event = read_object(body)
    except Unreadable as error:
        raise BadEvent(f"the body is not a JSON object Baton reads: {error}") from None
    event_id(event, spec.id)


def event_id(event: dict[str, Any], field: str) -> str:
    """The event's id, as the case's id will carry it: a string or an integer of 1 to
    `MAX_ID_CHARS` visible ASCII characters (no spaces, no control characters)."""
    value = event.get(field)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadEvent(f"the event needs a {field!r} field (a string or an integer)")
    text = str(value)
    if not _EVENT_ID.fullmatch(text):
        raise BadEvent(
            f"the event's {field!r} must be 1 to {MAX_ID_CHARS} visible ASCII characters"
            " (no spaces or control characters)"
        )
    return text


async def mount(application: web.Application, baton: App) -> str:
    """Mount the hook route; say which case sources take events."""
    application.router.add_post("/hooks/{source}", hook)
    names = [n for n, s in baton.workspace.case_sources.items() if s.kind == "webhook"]
    return "case hooks: " + (", ".join(f"/hooks/{n}" for n in names) or "none declared")
