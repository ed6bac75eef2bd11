"""The Slack surface: a Bolt AsyncApp on the web server's `POST /slack/events`."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import App
from bot.platform import Platform
from bot.slack import door
from bot.slack.assistant import SlackAssistant, planning
from bot.slack.config import SlackConfig, banner, slack_config
from bot.slack.gateway import SlackGateway
from bot.slack.home import HomeTabs
from bot.slack.inbound import Malformed
from bot.slack.listeners import SlackListeners
from bot.slack.messages import SlackClick, SlackCommand, SlackHome, SlackReply, SlackStatement
from bot.slack.oauth import installation_store, mount_oauth, not_installed, oauth_settings
from bot.slack.pacing import ChannelPacer, tier4_pacer
from bot.slack.replies import ReplyDelivery
from bot.slack.work import SlackWork
from config.settings import Settings
from handlers import texts
from orchestrator.runtime.clock import Clock
from orchestrator.runtime.dispatch import AnyHandler
from orchestrator.runtime.messages import Message
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.slack")

BOLT_KEY: web.AppKey[AsyncApp] = web.AppKey("slack_bolt", AsyncApp)
SECRET_KEY: web.AppKey[str] = web.AppKey("slack_signing_secret", str)


def web_client(config: SlackConfig) -> AsyncWebClient:
    return AsyncWebClient(token=config.bot_token, base_url=config.api_url)


def gateway_factory(settings: Settings, store: RedisStore, clock: Clock) -> SlackGateway | None:
    """The `slack` gateway for every process that delivers notices; None when Slack is off.

    Its turns are kept in Redis, so every process posting to a channel shares the pace."""
    config = slack_config(settings)
    if config is None:
        return None

    def now() -> float:  # turns are told by the clock deferred jobs are scheduled by
        return clock.now().timestamp()

    redis, prefix = store.redis, settings.key_prefix
    return SlackGateway(
        web_client(config),
        pacer=ChannelPacer(redis=redis, prefix=prefix, clock=now),
        tier4=tier4_pacer(redis=redis, prefix=prefix, clock=now),
        token_of=installation_store(config.oauth, store).bot_token if config.oauth else None,
    )


def build_bolt(baton: App, config: SlackConfig) -> AsyncApp:
    """A Bolt AsyncApp that verifies signatures with the signing secret and runs our listeners."""
    gateway = baton.gateways.get("slack")
    if not isinstance(gateway, SlackGateway):
        gateway = gateway_factory(baton.settings, baton.runtime.ctx.store, baton.runtime.ctx.clock)
        assert gateway is not None  # Slack is configured: `config` says so
    oauth, guard = None, None
    if config.oauth is not None:  # each team's token from its installation
        store = installation_store(config.oauth, baton.runtime.ctx.store)
        oauth = oauth_settings(config.oauth, store, assistant=config.assistant)
        guard = not_installed(store)
    bolt = AsyncApp(
        client=gateway.client,
        signing_secret=config.signing_secret,
        oauth_settings=oauth,
        before_authorize=guard,
        user_facing_authorize_error_message=texts.SLACK_NOT_INSTALLED,
        # Listeners only queue work, so the response goes out when the listener returns,
        # without Bolt's 10 ms polling for the ack of a listener run as a separate task.
        process_before_response=True,
        # Bolt's own 404 for payloads nobody listens to would make Slack retry them.
        raise_error_for_unhandled_request=False,
    )
    if oauth is not None:  # an uninstall (or revoked tokens) removes the team's installation
        bolt.enable_token_revocation_listeners()
    else:
        bolt.event("app_uninstalled")(_uninstalled)
        bolt.event("tokens_revoked")(_uninstalled)
    ctx = baton.runtime.ctx
    if config.assistant:  # before the listeners: it takes threaded direct messages
        bolt.use(SlackAssistant(baton.conversation, ctx.queue).middleware())
    home = home_tabs(baton, gateway)
    listeners = SlackListeners(baton.conversation, gateway, home, store=ctx.store, queue=ctx.queue)
    listeners.register(bolt)
    bolt.error(_malformed)
    return bolt


async def _uninstalled(body: dict[str, Any]) -> None:
    log.warning(
        "Slack says Baton was uninstalled from team %s (or its tokens revoked): "
        "SLACK_BOT_TOKEN no longer works there",
        body.get("team_id"),
    )


MALFORMED = (KeyError, IndexError, TypeError, AttributeError, ValueError)
"""What reading a payload without the fields of its kind raises, in Bolt's matching or in a
listener's translation (the conversation catches its own failures)."""


async def _malformed(error: Exception) -> BoltResponse | None:
    """Bolt's error handler: a payload that lacks Slack's fields is the sender's error (400),
    not the server's (Bolt's default 500); anything else stays a logged 500."""
    if isinstance(error, MALFORMED):
        log.warning("malformed Slack request: %s: %s", type(error).__name__, error)
        return BoltResponse(status=400, body="malformed request")
    log.error("Slack request failed", exc_info=error)
    return None


def home_tabs(baton: App, gateway: SlackGateway) -> HomeTabs:
    """Home tabs: what they show through the conversation's desk, their viewers in Redis."""
    ctx = baton.runtime.ctx
    return HomeTabs(gateway, baton.conversation.desk, store=ctx.store, queue=ctx.queue)


def job_kinds(baton: App) -> dict[type[Message], AnyHandler]:
    """Slack's own durable work in every process: statements and clicks finished after
    their ack, replies to requests, Home refreshes."""
    gateway = baton.gateways.get("slack")
    if not isinstance(gateway, SlackGateway):
        return {}
    home = home_tabs(baton, gateway)
    gateway.changed = home.changed
    config = slack_config(baton.settings)
    before_click = partial(planning, gateway) if config and config.assistant else None
    ctx = baton.runtime.ctx
    work = SlackWork(baton.conversation, gateway, before_click, store=ctx.store, queue=ctx.queue)
    return {
        SlackReply: ReplyDelivery(gateway, baton.runtime.ctx.store),
        SlackHome: home.refresh,
        SlackStatement: work.statement,
        SlackClick: work.click,
        SlackCommand: work.command,
    }


async def mount(application: web.Application, baton: App) -> str:
    """Adds `POST /slack/events` (or starts Socket Mode); returns the banner line."""
    config = slack_config(baton.settings)
    if config is None:
        return banner(baton.settings)
    bolt = build_bolt(baton, config)
    application[BOLT_KEY] = bolt
    application[SECRET_KEY] = config.signing_secret
    if config.app_token:
        application.cleanup_ctx.append(_socket_mode(bolt, config.app_token))
    if config.oauth is not None:
        mount_oauth(application, bolt)
    application.router.add_post("/slack/events", slack_events)
    return banner(baton.settings)


async def slack_events(request: web.Request) -> web.Response:
    """The door (signature, then what the payload must hold), then Bolt: convert in,
    dispatch (verification, ack, listeners), convert out."""
    body = await request.read()
    if not door.signed(request.app[SECRET_KEY], body, request.headers, time.time()):
        return web.json_response({"error": "invalid request"}, status=401)
    try:
        bolt_request = door.bolt_request(body, request.query_string, request.headers)
    except Malformed as error:
        log.warning("malformed Slack request: %s", error)
        return web.json_response({"error": "malformed request"}, status=400)
    response = await request.app[BOLT_KEY].async_dispatch(bolt_request)
    return await to_aiohttp_response(response)


def _socket_mode(
    bolt: AsyncApp, app_token: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Socket Mode for installs behind a firewall: Slack's websocket instead of HTTP."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    async def run(application: web.Application) -> AsyncIterator[None]:
        handler = AsyncSocketModeHandler(bolt, app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        yield
        # slack_sdk's close waits for the server's close frame while its own receive loop,
        # already told to stop, holds the socket: aiohttp's 10 s close timeout on every
        # shutdown. Stopping that loop first lets close() read the handshake itself.
        for task in (handler.client.message_receiver, handler.client.current_session_monitor):
            if task is not None:
                task.cancel()
        await handler.close_async()  # type: ignore[no-untyped-call]

    return run


SLACK = Platform("slack", gateway=gateway_factory, surface=mount, job_kinds=job_kinds)
"""Slack, for a composition root's list of platforms."""
