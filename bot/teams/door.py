"""What a request to `POST /api/messages` must be before botbuilder sees it.

botbuilder reads the body before it authenticates (by the charset the sender names, with
Python's recursive parser) and answers 500 to much of what it cannot read. So the door comes
first: with credentials, the Bearer token is verified before the body is read (401); then
the body must be a JSON activity botbuilder can read (415 for another media type, 400).
"""

from __future__ import annotations

import logging

from aiohttp import web
from azure.core.exceptions import DeserializationError
from botbuilder.schema import Activity

from bot.inbound_json import Unreadable, read_object
from bot.teams.auth import VerifiedAuthentication
from bot.teams.signing_keys import Unverified

log = logging.getLogger("baton.teams")
JSON = "application/json"


async def refusal(
    request: web.Request, authentication: VerifiedAuthentication | None
) -> web.Response | None:
    """The answer to a request botbuilder must not see, or None to let it through.
    `authentication` is None when inbound authentication is off (development)."""
    if authentication is not None:
        try:
            await authentication.verify_bearer(request.headers.get("Authorization"))
        except Unverified as error:
            log.info("Teams request refused: %s", error)
            return web.json_response({"error": "unauthorized"}, status=401)
    utf8 = (request.charset or "utf-8").lower() in ("utf-8", "utf8")
    if JSON not in request.headers.get("Content-Type", "") or not utf8:
        return web.json_response({"error": f"the body must be {JSON} (UTF-8)"}, status=415)
    try:
        activity = Activity().deserialize(read_object(await request.read()))
    except (Unreadable, ValueError, DeserializationError) as error:
        log.info("Teams request refused: not an activity: %s", error)
        activity = None
    if activity is None or not activity.type:
        return web.json_response({"error": "the body must be an activity object"}, status=400)
    return None
