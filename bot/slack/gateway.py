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
from bot.slack.pacing import ChannelPacer, Sleep, tier4_pacer
from handlers.cards import Card
from orchestrator.errors import BatonError
from orchestrator.models import ConversationRef, MessageRef

log = logging.getLogger("baton.slack")

Changed = Callable[[str], Awaitable[None]]
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
        tier4: ChannelPacer | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer(sleep=sleep)
        # Ephemeral messages and Home views are not channel posts: Slack rates
        # chat.postEphemeral and views.publish per workspace (Tier 4, 100+ a minute), so
        # they get a workspace bucket of their own instead of queueing behind the channel's.
        self.tier4 = tier4 or tier4_pacer(sleep=sleep)
        self.changed: Changed | None = None
        """Told the workspace after each post or update, to refresh App Home tabs."""

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
        await self._changed(conversation.workspace)
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
        await self._changed(ref.conversation.workspace)

    async def send_private(self, *, conversation: ConversationRef, user: str, card: Card) -> None:
        """An ephemeral message only `user` sees."""
        await self._call(
            "chat.postEphemeral",
            self.client.chat_postEphemeral,
            pace=(self.tier4, f"ephemeral:{conversation.workspace}"),
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

    async def publish_home(self, *, team: str, user: str, view: dict[str, Any]) -> None:
        """Publish `user`'s App Home tab (views.publish)."""
        await self._call(
            "views.publish",
            self.client.views_publish,
            pace=(self.tier4, f"views:{team}"),
            user_id=user,
            view=view,
        )

    async def _changed(self, workspace: str) -> None:
        if self.changed is None:
            return
        try:
            await self.changed(workspace)
        except Exception:  # the message went out; raising would make its job post it again
            log.exception("App Home refresh for %s not scheduled", workspace)

    async def _call(
        self,
        method: str,
        call: Callable[..., Awaitable[AsyncSlackResponse]],
        *,
        pace: tuple[ChannelPacer, str] | None = None,
        **kwargs: Any,
    ) -> AsyncSlackResponse:
        args = {k: v for k, v in kwargs.items() if v is not None}
        pacer, key = pace or (self.pacer, str(args["channel"]))
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            member = await pacer.wait(key)
            try:
                return await call(**args)
            except SlackApiError as error:
                wait = _retry_after(error)
                if wait is None:
                    raise SlackDeliveryFailed(method, str(error.response.get("error"))) from error
                log.info("Slack %s rate limited; retrying after %.0f s", method, wait)
                await pacer.hold_off(key, wait, member)  # inside a job, defers it
                if attempt == RATE_LIMIT_RETRIES or wait > MAX_RETRY_AFTER_S:
                    raise SlackDeliveryFailed(method, str(error.response.get("error"))) from error
                # The pause is the channel's next turn: the pacer sleeps it before the retry.
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
