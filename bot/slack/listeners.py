"""Bolt listeners: translate each Slack payload, call the conversation once, ack, reply.

The conversation only reads and writes Redis and enqueues jobs, so calling it before the
ack keeps the click durable and still answers well inside Slack's 3 seconds.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack import inbound
from bot.slack.blocks import ACTION_PREFIX, REJECT_CALLBACK, home_view, reject_modal
from bot.slack.gateway import SlackGateway
from handlers import render, texts
from handlers.cards import Card, Click, Inbound, Reply
from handlers.commands import COMMANDS
from handlers.conversation import Conversation

log = logging.getLogger("baton.slack")
Body = dict[str, Any]


class SlackListeners:
    """The handlers registered on Bolt; `register` wires them onto an AsyncApp."""

    def __init__(self, conversation: Conversation, gateway: SlackGateway) -> None:
        self.conversation = conversation
        self.gateway = gateway

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
            # A statement: anchor a thread so questions and answers stay together.
            thread = await self._anchor(body)
        message = inbound.from_command(body, thread)
        replies = await self.conversation.on_message(message)
        await ack()
        await self._show(message, replies)

    async def on_mention(self, body: Body) -> None:
        message = inbound.from_event(body)
        if message is not None:
            await self._show(message, await self.conversation.on_message(message))

    async def on_message_event(self, body: Body) -> None:
        message = inbound.from_event(body)
        if message is None or not (inbound.is_direct(body) or await self._answering(message)):
            return
        await self._show(message, await self.conversation.on_message(message))

    async def on_home(self, body: Body) -> None:
        team = body.get("team_id", "")
        await self.gateway.client.views_publish(
            user_id=body["event"]["user"], view=home_view(await self._home_cards(team))
        )

    async def on_action(self, ack: AsyncAck, body: Body) -> None:
        click = inbound.from_action(body)
        if click.action == "reject":
            await ack()
            await self.gateway.client.views_open(
                trigger_id=body["trigger_id"], view=reject_modal(inbound.modal_metadata(click))
            )
            return
        replies = await self.conversation.on_click(click)
        await ack()
        await self._show(click, replies)

    async def on_reject_reason(self, ack: AsyncAck, body: Body) -> None:
        click = inbound.from_view_submission(body)
        replies = await self.conversation.on_click(click)
        await ack()
        await self._show(click, replies)

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

    async def _show(self, source: Inbound | Click, replies: list[Reply]) -> None:
        where = source.conversation
        for reply in replies:
            try:
                await self._show_one(source, reply)
                if reply.card.image_png:
                    await self.gateway.upload_image(
                        conversation=where, title=reply.card.title, png=reply.card.image_png
                    )
            except Exception:
                log.exception("reply to %s in %s failed", source.user, where.channel)

    async def _show_one(self, source: Inbound | Click, reply: Reply) -> None:
        where = source.conversation
        if reply.private:
            await self.gateway.send_private(conversation=where, user=source.user, card=reply.card)
        elif reply.replace and isinstance(source, Click) and source.message is not None:
            await self.gateway.update(ref=source.message, card=reply.card)
        else:
            await self.gateway.send(conversation=where, card=reply.card)

    async def _home_cards(self, team: str) -> list[Card]:
        ctx = self.conversation.runtime.ctx
        cards = []
        for outcome in await ctx.store.outcomes(team):
            steps = await ctx.store.steps(outcome.id)
            workspace = ctx.workspace_of(team)
            spent = await ctx.store.spent(outcome.id)
            cards.append(render.progress_card(outcome, None, steps, workspace, spent))
        return cards
