"""Bolt listeners: translate each Slack payload, do the least that must happen now, ack.

Nothing slow runs before the acknowledgement. A statement and a click are queued as jobs
(`slack_statement`, `slack_click`) that a worker finishes: Slack's 3 seconds never depend on
Slack's own API (a thread anchor, a 429) or on the orchestrator. Commands that only read
answer inside the ack itself, which Slack shows only to the person who typed them; other
replies are queued as `slack_reply` jobs. The calls that must be made within the request's
trigger (the reject and edit modals) or that only refresh a view (Home) run beside the ack;
an edit modal's submission is decided on the request (`edit_modal`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import inbound
from bot.slack.blocks import ACTION_PREFIX, REJECT_CALLBACK, fallback_text, reject_modal, to_blocks
from bot.slack.edit_modal import EDIT_CALLBACK, EditModal
from bot.slack.gateway import SlackGateway
from bot.slack.home import HomeTabs
from bot.slack.messages import SlackCommand, SlackStatement
from bot.slack.work import enqueue_answer, queue_click, queue_command
from handlers.cards import Click, Inbound, Reply
from handlers.commands import COMMANDS
from handlers.conversation import Conversation
from orchestrator.runtime.queue import JobQueue
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.slack")
Body = dict[str, Any]
STATEMENT_TTL_S = 3_600
IN_WORKER = frozenset({"status", "audit"})
"""Commands that draw a chart or read a whole history: CPU the web process must not spend
while other requests wait for their acknowledgement. Their answers come from a worker."""


class SlackListeners:
    """The handlers registered on Bolt; `register` wires them onto an AsyncApp."""

    def __init__(
        self,
        conversation: Conversation,
        gateway: SlackGateway,
        home: HomeTabs,
        *,
        store: RedisStore,
        queue: JobQueue,
    ) -> None:
        self.conversation = conversation
        self.gateway = gateway
        self.home = home
        self.store = store
        self.queue = queue
        self.edits = EditModal(conversation, queue)
        self._beside: set[asyncio.Task[None]] = set()

    def register(self, app: AsyncApp) -> None:
        # Bolt tries listeners in this order: the most frequent payload, a click, first.
        app.action(re.compile(f"^{ACTION_PREFIX}"))(self.on_action)
        app.command("/outcome")(self.on_command)
        app.event("message")(self.on_message_event)
        app.event("app_mention")(self.on_mention)
        app.view(REJECT_CALLBACK)(self.on_reject_reason)
        app.view(EDIT_CALLBACK)(self.edits.submitted)
        app.event("app_home_opened")(self.on_home)

    async def on_command(self, ack: AsyncAck, body: Body) -> None:
        words = body.get("text", "").split()
        name = words[0].lower() if words else ""
        if words and (name not in COMMANDS or name in IN_WORKER):
            # A statement: a job anchors its thread and starts the intake there (or a heavy
            # command runs there). The same trigger delivered again is dropped here, before
            # it can queue a second one.
            if await self._first_command(body):
                kind = SlackCommand if name in IN_WORKER else SlackStatement
                await queue_command(self._queue, kind, body)
            await ack()
            return
        message = inbound.from_command(body)
        replies = await self.conversation.on_message(message)
        if replies and replies[0].private and not replies[0].card.image_png:
            # The first reply is the ack's; what it changed is still refreshed by a job.
            await self._enqueue(message, replies[1:], views_changed=replies[0].views_changed)
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
            self._run_beside(self.home.opened(body.get("team_id", ""), event["user"]))

    async def on_action(self, ack: AsyncAck, body: Body, client: AsyncWebClient) -> None:
        click = inbound.from_action(body)
        if click.action == "reject":
            # The trigger id lives 3 seconds: the modal opens now, beside the ack (with
            # Bolt's client: it carries the token of the team the click came from).
            view = reject_modal(inbound.modal_metadata(click))
            self._run_beside(client.views_open(trigger_id=body["trigger_id"], view=view))
        elif click.action == "edit":  # the edit modal, on the same trigger and client
            self._run_beside(self.edits.open(client, body["trigger_id"], click))
        else:
            await queue_click(self._queue, click)
        await ack()

    async def on_reject_reason(self, ack: AsyncAck, body: Body) -> None:
        await queue_click(self._queue, inbound.from_view_submission(body))
        await ack()

    async def _first_command(self, body: Body) -> bool:
        key = f"slack_command:{body['team_id']}:{body['trigger_id']}"
        return await self.store.first_time(key, STATEMENT_TTL_S)

    async def _answering(self, message: Inbound) -> bool:
        """A channel message counts only as an answer in a thread where an intake waits."""
        if message.conversation.thread is None:
            return False
        return await self.conversation.desk.waiting_in(message.conversation) is not None

    @property
    def _queue(self) -> JobQueue:
        return self.queue

    async def _enqueue(
        self, source: Inbound | Click, replies: list[Reply], *, views_changed: bool = False
    ) -> None:
        await enqueue_answer(self._queue, source, replies, views_changed=views_changed)

    def _run_beside(self, call: Coroutine[Any, Any, object]) -> None:
        """Run `call` while the ack goes out; a failure is logged (the person can retry)."""
        task = asyncio.ensure_future(_logged(call))
        self._beside.add(task)
        task.add_done_callback(self._beside.discard)


async def _logged(call: Coroutine[Any, Any, object]) -> None:
    try:
        await call
    except Exception:
        log.exception("Slack call beside an acknowledgement failed")
