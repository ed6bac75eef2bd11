"""SlackGateway: the chat gateway port over Slack's Web API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.blocks import fallback_text, to_blocks
from bot.slack.pacing import ChannelPacer, Sleep
from handlers.cards import Card
from orchestrator.errors import BatonError
from orchestrator.models import ConversationRef, MessageRef

log = logging.getLogger("baton.slack")

RATE_LIMIT_RETRIES = 2
MAX_RETRY_AFTER_S = 30.0
"""A longer wait is better spent back in the job queue than holding a worker."""


class SlackDeliveryFailed(BatonError):
    """Slack refused or could not take a message; the notify job will be retried."""

    def __init__(self, method: str, detail: str) -> None:
        super().__init__(f"Slack {method} failed: {detail}")
        self.method = method
        self.detail = detail


class SlackGateway:
    """Posts, updates, whispers and uploads; paced per channel, honouring 429 Retry-After.

    Every failure raises, so a delivery made from a job is retried by the worker, never dropped.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pacer: ChannelPacer | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer(sleep=sleep)
        self.sleep = sleep

    async def send(self, *, conversation: ConversationRef, card: Card) -> MessageRef:
        """Post a card in the channel (in its thread, if any)."""
        response = await self._call(
            "chat.postMessage",
            self.client.chat_postMessage,
            channel=conversation.channel,
            thread_ts=conversation.thread,
            text=fallback_text(card),
            blocks=to_blocks(card),
        )
        return MessageRef(conversation=conversation, message_id=str(response["ts"]))

    async def update(self, *, ref: MessageRef, card: Card) -> None:
        """Replace a posted message for everyone (chat.update outlives response_url)."""
        await self._call(
            "chat.update",
            self.client.chat_update,
            channel=ref.conversation.channel,
            ts=ref.message_id,
            text=fallback_text(card),
            blocks=to_blocks(card),
        )

    async def send_private(self, *, conversation: ConversationRef, user: str, card: Card) -> None:
        """An ephemeral message only `user` sees."""
        await self._call(
            "chat.postEphemeral",
            self.client.chat_postEphemeral,
            channel=conversation.channel,
            user=user,
            thread_ts=conversation.thread,
            text=fallback_text(card),
            blocks=to_blocks(card),
        )

    async def upload_image(self, *, conversation: ConversationRef, title: str, png: bytes) -> None:
        """Upload a PNG into the conversation (files.getUploadURLExternal + complete)."""
        await self._call(
            "files.upload",
            self.client.files_upload_v2,
            channel=conversation.channel,
            thread_ts=conversation.thread,
            file=png,
            filename="chart.png",
            title=title[:200],
        )

    async def _call(
        self, method: str, call: Callable[..., Awaitable[AsyncSlackResponse]], **kwargs: Any
    ) -> AsyncSlackResponse:
        args = {k: v for k, v in kwargs.items() if v is not None}
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            await self.pacer.wait(str(args["channel"]))
            try:
                return await call(**args)
            except SlackApiError as error:
                wait = _retry_after(error)
                if wait is None or attempt == RATE_LIMIT_RETRIES or wait > MAX_RETRY_AFTER_S:
                    raise SlackDeliveryFailed(method, str(error.response.get("error"))) from error
                log.info("Slack %s rate limited; retrying after %.0f s", method, wait)
                await self.sleep(wait)
            except Exception as error:  # network and protocol errors: the job queue retries
                raise SlackDeliveryFailed(method, repr(error)) from error
        raise SlackDeliveryFailed(method, "rate limited")


def _retry_after(error: SlackApiError) -> float | None:
    if error.response.status_code != 429:
        return None
    headers = {str(k).lower(): v for k, v in (error.response.headers or {}).items()}
    value = headers.get("retry-after", "1")
    try:
        return float(value[0] if isinstance(value, list) else value)
    except ValueError:
        return 1.0
