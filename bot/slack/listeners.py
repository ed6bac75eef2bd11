"""Bolt listeners: translate each Slack payload, call the conversation once, ack.

The conversation only reads and writes Redis and enqueues jobs; replies are enqueued too
(a `slack_reply` job) before the ack, so nothing slow runs on the request path and a
Slack outage delays a reply without losing it. A slash command's private answer goes back
in the ack itself, which Slack shows only to the person who typed it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack import inbound
from bot.slack.blocks import ACTION_PREFIX, REJECT_CALLBACK, fallback_text, reject_modal, to_blocks
from bot.slack.gateway import SlackGateway
from bot.slack.home import HomeTabs
from bot.slack.replies import enqueue_replies
from handlers import texts
from handlers.cards import Card, Click, Inbound, Reply
from handlers.commands import COMMANDS
from handlers.conversation import Conversation

log = logging.getLogger("baton.slack")
Body = dict[str, Any]
ANCHOR_TTL_S = 3_600


class SlackListeners:
    """The handlers registered on Bolt; `register` wires them onto an AsyncApp."""

    def __init__(self, conversation: Conversation, gateway: SlackGateway, home: HomeTabs) -> None:
        self.conversation = conversation
        self.gateway = gateway
        self.home = home

    def register(self, app: AsyncApp) -> None:
        app.command("/outcome")(self.on_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message_event)
        app.event("app_home_opened")(self.on_home)
        app.action(re.compile(f"^{ACTION_PREFIX}"))(self.on_action)
        app.view(REJECT_CALLBACK)(self.on_reject_reason)

    async def on_command(self, ack: AsyncAck, body: Body) -> None:
        words = body.get("text", "").split()
        thread = None
        if words and words[0].lower() not in COMMANDS:
            # A statement: anchor a thread so questions and answers stay together. The same
            # trigger delivered again is dropped before it can post a second anchor.
            if not await self._first_command(body):
                await ack()
                return
            thread = await self._anchor(body)
        message = inbound.from_command(body, thread)
        replies = await self.conversation.on_message(message)
        if replies and replies[0].private and not replies[0].card.image_png:
            await self._enqueue(message, replies[1:])
            card = replies[0].card
            await ack(text=fallback_text(card), blocks=to_blocks(card))
            return
        await self._enqueue(message, replies)
        await ack()

    async def on_mention(self, body: Body) -> None:
        message = inbound.from_event(body)
        if message is not None:
            await self._enqueue(message, await self.conversation.on_message(message))

    async def on_message_event(self, body: Body) -> None:
        message = inbound.from_event(body)
        if message is None or not (inbound.is_direct(body) or await self._answering(message)):
            return
        await self._enqueue(message, await self.conversation.on_message(message))

    async def on_home(self, body: Body) -> None:
        event = body["event"]
        if event.get("tab", "home") == "home":
            await self.home.opened(body.get("team_id", ""), event["user"])

    async def on_action(self, ack: AsyncAck, body: Body) -> None:
        click = inbound.from_action(body)
        if click.action == "reject":
            await ack()
            # The trigger id lives 3 seconds: the modal must open now, not from a job.
            await self.gateway.client.views_open(
                trigger_id=body["trigger_id"], view=reject_modal(inbound.modal_metadata(click))
            )
            return
        await self._enqueue(click, await self.conversation.on_click(click))
        await ack()

    async def on_reject_reason(self, ack: AsyncAck, body: Body) -> None:
        click = inbound.from_view_submission(body)
        await self._enqueue(click, await self.conversation.on_click(click))
        await ack()

    async def _first_command(self, body: Body) -> bool:
        key = f"slack_command:{body['team_id']}:{body['trigger_id']}"
        return await self.conversation.runtime.ctx.store.first_time(key, ANCHOR_TTL_S)

    async def _anchor(self, body: Body) -> str:
        text = texts.SLACK_STATED.format(user="@" + body["user_id"], text=body.get("text", ""))
        card = Card(title=text)
        where = inbound.conversation(body["team_id"], body["channel_id"])
        return (await self.gateway.send(conversation=where, card=card)).message_id

    async def _answering(self, message: Inbound) -> bool:
        """A channel message counts only as an answer in a thread where an intake waits."""
        if message.conversation.thread is None:
            return False
        return await self.conversation.runtime.intake.waiting_in(message.conversation) is not None

    async def _enqueue(self, source: Inbound | Click, replies: list[Reply]) -> None:
        await enqueue_replies(self.conversation.runtime.ctx.queue, source, replies)
