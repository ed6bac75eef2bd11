"""Installing Baton into many Slack workspaces: Bolt's own OAuth v2 flow, on Baton's Redis.

`GET /slack/install` issues a state (kept in Redis for 10 minutes, and in the browser's
cookie) and links to Slack's consent page; Slack sends the person back to
`GET /slack/oauth_redirect` with a code, which Bolt exchanges (`oauth.v2.access`) for the
team's bot token, stored encrypted (`installations.py`). Every request from that team is
then authorized with its own token (Bolt's `authorize` over the installation store), and
the gateway posts to it with the same token. The pages the person sees are Baton's.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.exceptions import RedisError
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.state_utils import OAuthStateUtils

from bot.slack.config import SlackOAuth
from bot.slack.installations import (
    STATE_TTL_S,
    RedisInstallationStore,
    RedisOAuthStateStore,
    token_cipher,
)
from bot.slack.manifest import REDIRECT_PATH, bot_scopes
from handlers import texts
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.slack")

INSTALL_PATH = "/slack/install"
OAUTH_KEY: web.AppKey[AsyncApp] = web.AppKey("slack_oauth_bolt", AsyncApp)


def installation_store(oauth: SlackOAuth, store: RedisStore) -> RedisInstallationStore:
    return RedisInstallationStore(store.redis, store.keys, token_cipher(oauth.token_key))


def oauth_settings(
    oauth: SlackOAuth, installations: RedisInstallationStore, *, assistant: bool
) -> AsyncOAuthSettings:
    """Bolt's OAuth settings: Baton's scopes, stores and pages."""
    settings = AsyncOAuthSettings(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        scopes=list(bot_scopes(assistant=assistant)),
        user_scopes=[],
        redirect_uri=oauth.redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=oauth.authorize_url,
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=RedisOAuthStateStore(installations.redis, installations.keys),
        state_expiration_seconds=STATE_TTL_S,
        callback_options=AsyncCallbackOptions(success=_installed, failure=_not_installed),
    )
    settings.state_utils = OAuthStateUtils(expiration_seconds=STATE_TTL_S)
    # auth.test once per token and process, not once per request: Slack rates it (Tier 4).
    settings.authorize = AsyncInstallationStoreAuthorize(
        logger=log,
        installation_store=installations,
        bot_only=True,
        cache_enabled=True,
    )
    return settings


def not_installed(
    installations: RedisInstallationStore,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Bolt's `before_authorize`: a command or click from a team without an installation is
    answered in its acknowledgement (the person sees it), instead of Bolt posting the same
    to the request's response_url on the request path."""

    async def guard(
        context: AsyncBoltContext, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        if context.response_url is None or (
            context.team_id is None and context.enterprise_id is None
        ):
            return await next()
        bot = await installations.async_find_bot(
            enterprise_id=context.enterprise_id,
            team_id=context.team_id,
            is_enterprise_install=context.is_enterprise_install,
        )
        if bot is None:
            log.warning(
                "Slack request from team %s, which has not installed Baton", context.team_id
            )
            return BoltResponse(status=200, body=texts.SLACK_NOT_INSTALLED)
        return await next()

    return guard


def mount_oauth(application: web.Application, bolt: AsyncApp) -> None:
    """Adds the install page and Slack's redirect back to it."""
    application[OAUTH_KEY] = bolt
    application.router.add_get(INSTALL_PATH, install)
    application.router.add_get(REDIRECT_PATH, redirected)


async def install(request: web.Request) -> web.Response:
    """The install page: a new state, and the link to Slack's consent page."""
    flow = request.app[OAUTH_KEY].oauth_flow
    assert flow is not None  # mounted only with OAuth settings
    try:
        response = await flow.handle_installation(await to_bolt_request(request))
    except RedisError:
        log.exception("Slack install page: the state could not be kept")
        return _unavailable()
    return await to_aiohttp_response(response)


async def redirected(request: web.Request) -> web.Response:
    """Slack's redirect: the state checked and consumed, the code exchanged, the team's
    installation stored; a friendly page either way."""
    flow = request.app[OAUTH_KEY].oauth_flow
    assert flow is not None
    try:
        response = await flow.handle_callback(await to_bolt_request(request))
    except RedisError:
        log.exception("Slack install: the installation could not be stored")
        return _unavailable()
    return await to_aiohttp_response(response)


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    team = installation.team_name or installation.team_id or installation.enterprise_name
    log.info("Slack install: team %s installed Baton", installation.team_id)
    text = texts.SLACK_INSTALLED.format(team=html.escape(str(team or "your workspace")))
    return _page(200, texts.SLACK_INSTALLED_TITLE, text)


async def _not_installed(args: AsyncFailureArgs) -> BoltResponse:
    log.info("Slack install refused: %s", args.reason)
    reason = texts.SLACK_INSTALL_FAILED.get(args.reason)
    text = reason or texts.SLACK_INSTALL_FAILED_OTHER.format(reason=html.escape(args.reason))
    again = f'<p><a href="{INSTALL_PATH}">{texts.SLACK_INSTALL_AGAIN}</a></p>'
    return _page(args.suggested_status_code, texts.SLACK_INSTALL_FAILED_TITLE, text, again)


def _page(status: int, title: str, text: str, extra: str = "") -> BoltResponse:
    body = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><h1>{title}</h1><p>{text}</p>{extra}</body></html>"
    )
    return BoltResponse(status=status, body=body, headers={"Content-Type": "text/html"})


def _unavailable() -> web.Response:
    again = f'<p><a href="{INSTALL_PATH}">{texts.SLACK_INSTALL_AGAIN}</a></p>'
    page = _page(503, texts.SLACK_INSTALL_FAILED_TITLE, texts.CANNOT_TAKE_WORK, again)
    return web.Response(status=503, text=page.body, content_type="text/html")
