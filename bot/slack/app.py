"""The Slack surface: a Bolt AsyncApp on the web server's `POST /slack/events`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import App
from bot.slack.config import SlackConfig, banner, slack_config
from bot.slack.gateway import SlackGateway
from bot.slack.home import SLACK_HOME, HomeTabs
from bot.slack.listeners import SlackListeners
from bot.slack.replies import SLACK_REPLY, ReplyDelivery
from config.settings import Settings
from orchestrator.store.redis_store import RedisStore
from orchestrator.worker import JobHandler

log = logging.getLogger("baton.slack")

BOLT_KEY: web.AppKey[AsyncApp] = web.AppKey("slack_bolt", AsyncApp)


def web_client(config: SlackConfig) -> AsyncWebClient:
    return AsyncWebClient(token=config.bot_token, base_url=config.api_url)


def gateway_factory(settings: Settings, store: RedisStore) -> SlackGateway | None:
    """The `slack` gateway for every process that delivers notices; None when Slack is off."""
    config = slack_config(settings)
    return SlackGateway(web_client(config)) if config else None


def build_bolt(baton: App, config: SlackConfig) -> AsyncApp:
    """A Bolt AsyncApp that verifies signatures with the signing secret and runs our listeners."""
    gateway = baton.gateways.get("slack")
    if not isinstance(gateway, SlackGateway):
        gateway = SlackGateway(web_client(config))
    bolt = AsyncApp(
        client=gateway.client,
        signing_secret=config.signing_secret,
        # Bolt's own 404 for payloads nobody listens to would make Slack retry them.
        raise_error_for_unhandled_request=False,
    )
    SlackListeners(baton.conversation, gateway, HomeTabs(gateway, baton.runtime)).register(bolt)
    return bolt


def job_kinds(baton: App) -> dict[str, JobHandler]:
    """Slack's own durable work in every process: replies to requests, Home refreshes."""
    gateway = baton.gateways.get("slack")
    if not isinstance(gateway, SlackGateway):
        return {}
    home = HomeTabs(gateway, baton.runtime)
    gateway.changed = home.changed
    return {
        SLACK_REPLY: ReplyDelivery(gateway, baton.runtime.ctx.store),
        SLACK_HOME: home.refresh,
    }


async def mount(application: web.Application, baton: App) -> str:
    """Adds `POST /slack/events` (or starts Socket Mode); returns the banner line."""
    config = slack_config(baton.settings)
    if config is None:
        return banner(baton.settings)
    bolt = build_bolt(baton, config)
    application[BOLT_KEY] = bolt
    if config.app_token:
        application.cleanup_ctx.append(_socket_mode(bolt, config.app_token))
    application.router.add_post("/slack/events", slack_events)
    return banner(baton.settings)


async def slack_events(request: web.Request) -> web.Response:
    """Convert in, dispatch through Bolt (verification, ack, listeners), convert out."""
    bolt = request.app[BOLT_KEY]
    response = await bolt.async_dispatch(await to_bolt_request(request))
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
        await handler.close_async()  # type: ignore[no-untyped-call]

    return run
