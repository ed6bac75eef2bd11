"""The answer at the web door while Redis takes no new work (full or gone).

Nothing can be queued or recorded then, so the person is told at once, in the platform's own
way, without a write: Slack's slash commands get the words in their acknowledgement, clicks
through their `response_url`, messages an ephemeral post; Teams gets a reply activity (and
an Adaptive Card click its invoke answer); a webhook sender gets 503 with Retry-After, so it
delivers again later. Each request is authenticated as its surface would before anything is
said or posted: an unsigned one is refused as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.bootstrap import App
from config.settings import Settings
from handlers import texts

if TYPE_CHECKING:
    from bot.slack.config import SlackConfig

log = logging.getLogger("baton.web")

SLACK_ROUTE = "/slack/events"
TEAMS_ROUTE = "/api/messages"
HOOKS_ROUTE = "/hooks/"
RETRY_AFTER_S = 30
_beside: set[asyncio.Task[None]] = set()


def is_chat(path: str) -> bool:
    """Requests by which people (or their systems) give Baton new work."""
    return path in (SLACK_ROUTE, TEAMS_ROUTE) or path.startswith(HOOKS_ROUTE)


async def answer(request: web.Request, baton: App) -> web.StreamResponse:
    """Tell the sender Baton cannot take new work right now, as its platform expects."""
    if request.path == SLACK_ROUTE:
        return await _slack(request, baton)
    if request.path == TEAMS_ROUTE:
        return await _teams(request, baton)
    return web.json_response(
        {"error": texts.CANNOT_TAKE_WORK},
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _slack(request: web.Request, baton: App) -> web.Response:
    config = _slack_config(baton.settings)
    body = await request.read()
    if config is None or not SignatureVerifier(config.signing_secret).is_valid_request(
        body, dict(request.headers)
    ):
        return web.json_response({"error": "invalid request"}, status=401)
    try:
        return _slack_signed(request.content_type, body, config)
    except (ValueError, AttributeError, TypeError, RecursionError) as error:  # not Slack's shape
        log.warning("unreadable Slack request while busy: %s", error)
        return web.json_response({"error": "malformed request"}, status=400)


def _slack_signed(content_type: str, body: bytes, config: SlackConfig) -> web.Response:
    if content_type == "application/json":
        return _slack_event(json.loads(body), config)
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if "command" in form:
        return web.json_response({"response_type": "ephemeral", "text": texts.CANNOT_TAKE_WORK})
    payload = json.loads(form.get("payload", "{}"))
    if payload.get("type") == "view_submission":
        return web.json_response({"response_action": "update", "view": _busy_view()})
    if isinstance(payload.get("response_url"), str):
        _run_beside(_respond(payload["response_url"]))
    return web.Response(status=200)


def _slack_config(settings: Settings) -> SlackConfig | None:
    from bot.slack.config import slack_config  # imported here: it registers Slack's surface

    return slack_config(settings)


def _slack_event(envelope: dict[str, Any], config: SlackConfig) -> web.Response:
    if envelope.get("type") == "url_verification":
        return web.json_response({"challenge": envelope.get("challenge")})
    event = envelope.get("event")
    # Installed per team (OAuth), the team's token is in Redis, which is what is busy.
    if isinstance(event, dict) and _from_a_person(event) and config.bot_token:
        client = AsyncWebClient(token=config.bot_token, base_url=config.api_url)
        thread = event.get("thread_ts")
        _run_beside(
            client.chat_postEphemeral(
                channel=event["channel"],
                user=event["user"],
                text=texts.CANNOT_TAKE_WORK,
                thread_ts=thread if isinstance(thread, str) else None,
            )
        )
    return web.Response(status=200)  # acknowledged: Slack must not deliver it again


def _from_a_person(event: dict[str, Any]) -> bool:
    return (
        event.get("type") in ("message", "app_mention")
        and not event.get("bot_id")
        and not event.get("subtype")
        and isinstance(event.get("user"), str)
        and isinstance(event.get("channel"), str)
    )


async def _respond(response_url: str) -> None:
    await AsyncWebhookClient(response_url).send(
        text=texts.CANNOT_TAKE_WORK, response_type="ephemeral", replace_original=False
    )


def _busy_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Baton"},
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": texts.CANNOT_TAKE_WORK}}
        ],
    }


class _BusyTeamsBot(ActivityHandler):  # type: ignore[misc]
    """Answers every message and every invoke (a card click) with the words, and records
    nothing."""

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(texts.CANNOT_TAKE_WORK)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        from bot.teams.bot import message_response

        return message_response(texts.CANNOT_TAKE_WORK)


_adapters: dict[int, CloudAdapter] = {}


async def _teams(request: web.Request, baton: App) -> web.StreamResponse:
    from bot.teams.auth import AuthMode, auth_mode  # imported here: Teams may not be installed
    from bot.teams.surface import build_adapter

    if auth_mode(baton.settings) is AuthMode.REFUSED:
        return web.json_response({"error": texts.CANNOT_TAKE_WORK}, status=503)
    adapter = _adapters.get(id(baton))
    if adapter is None:
        adapter = _adapters[id(baton)] = build_adapter(baton.settings)
    try:
        response = await adapter.process(request, _BusyTeamsBot())
    except (ValueError, TypeError) as error:  # not an activity: the sender's error
        log.warning("unreadable Teams request while busy: %s", error)
        return web.json_response({"error": "malformed request"}, status=400)
    return response if response is not None else web.Response(status=201)


def _run_beside(call: Coroutine[Any, Any, object]) -> None:
    """Post while the acknowledgement goes out; a failure is logged (the person retries)."""

    async def logged() -> None:
        try:
            await call
        except Exception as error:  # noqa: BLE001 - best effort: the answer is already sent
            log.warning("could not tell the sender Baton is busy: %s", error)

    task = asyncio.ensure_future(logged())
    _beside.add(task)
    task.add_done_callback(_beside.discard)
