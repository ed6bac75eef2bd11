"""Teams as a composition root wires it (`TEAMS`): `POST /api/messages` on Baton's web
server, and the gateway for proactive messages."""

from __future__ import annotations

import logging

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter

from bot.bootstrap import App
from bot.platform import Platform
from bot.teams import door
from bot.teams.auth import AuthMode, VerifiedAuthentication, auth_mode, missing_variables
from bot.teams.bot import BatonTeamsBot
from bot.teams.delivery import Pacer
from bot.teams.gateway import TeamsGateway
from bot.teams.references import ReferenceStore
from config.settings import Settings
from handlers import texts
from handlers.ports import ChatGateway
from orchestrator.runtime.clock import Clock
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.teams")
ROUTE = "/api/messages"


def build_adapter(settings: Settings) -> CloudAdapter:
    """A CloudAdapter that authenticates as configured (or not at all, in development)."""
    return CloudAdapter(VerifiedAuthentication(settings))


async def _log_turn_error(turn_context: TurnContext, error: Exception) -> None:
    log.error("Teams turn failed", exc_info=error)


def refused_message(settings: Settings) -> str:
    return texts.TEAMS_REFUSED.format(missing=", ".join(missing_variables(settings)))


async def mount(application: web.Application, baton: App) -> str:
    """Mount `POST /api/messages`; returns the start-up line saying how Teams is served."""
    settings = baton.settings
    mode = auth_mode(settings)
    if mode is AuthMode.REFUSED:
        message = refused_message(settings)

        async def refuse(request: web.Request) -> web.Response:
            return web.json_response({"error": message}, status=503)

        application.router.add_post(ROUTE, refuse)
        return message
    authentication = VerifiedAuthentication(settings)
    adapter = CloudAdapter(authentication)
    # Inbound turns log and answer; the gateway's adapter has no handler, so a failed
    # delivery raises and the notify job is retried from the queue.
    adapter.on_turn_error = _log_turn_error
    references = ReferenceStore(baton.redis, settings.key_prefix)
    bot = BatonTeamsBot(baton.conversation, references)
    verifier = authentication if mode is AuthMode.AUTHENTICATED else None

    async def messages(request: web.Request) -> web.StreamResponse:
        refused = await door.refusal(request, verifier)
        if refused is not None:
            return refused
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    application.router.add_post(ROUTE, messages)
    if mode is AuthMode.OPEN:
        return texts.TEAMS_OPEN
    return texts.TEAMS_ON.format(
        app_id=settings.microsoft_app_id, app_type=settings.microsoft_app_type
    )


def teams_gateway(settings: Settings, store: RedisStore, clock: Clock) -> ChatGateway | None:
    """The gateway for proactive messages, or None when Teams may not be served. (Its pace
    is counted per wall-clock second, shared by processes; `clock` is not needed.)"""
    if auth_mode(settings) is AuthMode.REFUSED:
        return None
    return TeamsGateway(
        build_adapter(settings),
        ReferenceStore(store.redis, settings.key_prefix),
        Pacer(store.redis, settings.key_prefix),
        app_id=settings.microsoft_app_id,
    )


TEAMS = Platform("teams", gateway=teams_gateway, surface=mount)
"""Microsoft Teams, for a composition root's list of platforms."""
