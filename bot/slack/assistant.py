"""Slack's assistant container (the split view for agents), where the workspace enables it.

A thread the person opens gets Baton's suggested prompts; what they write in it goes to the
conversation as a direct message does. While Baton measures a stated outcome's baseline, or
plans after a Confirm, the thread shows a status (Slack clears it when Baton's reply is
posted), and a statement names the thread after itself. Channels and `/outcome` are
untouched: the middleware takes only assistant events and threaded direct messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAssistant
from slack_bolt.context.set_status.async_set_status import AsyncSetStatus
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import (
    AsyncSetSuggestedPrompts,
)
from slack_bolt.context.set_title.async_set_title import AsyncSetTitle
from slack_sdk.errors import SlackApiError

from bot.slack import inbound
from bot.slack.gateway import SlackGateway
from bot.slack.work import enqueue_answer
from handlers import texts
from handlers.cards import Click, Inbound
from handlers.commands import COMMANDS
from handlers.conversation import Conversation
from orchestrator.models import ConversationRef
from orchestrator.runtime.queue import JobQueue

log = logging.getLogger("baton.slack")
Body = dict[str, Any]
TITLE_CHARS = 80
PLANS_ON = frozenset({"confirm", "approve", "reject"})
"""Clicks after which Baton plans (or re-plans) the outcome of the thread."""


def prompts() -> list[dict[str, str]]:
    return [
        {"title": title, "message": message} for title, message in texts.SLACK_ASSISTANT_PROMPTS
    ]


def title_of(statement: str) -> str:
    """A thread's title from the statement that opened it, short enough for the sidebar."""
    words = " ".join(statement.split())
    return words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1] + "…"


class SlackAssistant:
    """Bolt's `AsyncAssistant` middleware with Baton's listeners."""

    def __init__(self, conversation: Conversation, queue: JobQueue) -> None:
        self.conversation = conversation
        self.queue = queue
        self._beside: set[asyncio.Task[None]] = set()

    def middleware(self) -> AsyncAssistant:
        assistant = AsyncAssistant()
        assistant.thread_started(self.started)
        assistant.thread_context_changed(self.context_changed)
        assistant.user_message(self.message)
        return assistant

    async def started(self, set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
        await set_suggested_prompts(prompts=prompts())

    async def context_changed(self) -> None:
        """Baton does not read the channel the person has open beside the thread."""

    async def message(
        self, body: Body, set_status: AsyncSetStatus, set_title: AsyncSetTitle
    ) -> None:
        """A message in the thread: a statement names the thread and shows that Baton
        measures; an answer shows that it works; then it goes on as a direct message."""
        message = inbound.from_event(body)
        if message is None:
            return
        kind = await self._kind(message)
        if kind == "statement":
            self._run_beside(set_title(title_of(message.text)))
            await _quietly(set_status(texts.SLACK_ASSISTANT_MEASURING))
        elif kind == "answer":
            await _quietly(set_status(texts.SLACK_ASSISTANT_WORKING))
        replies = await self.conversation.on_message(message)
        await enqueue_answer(self.queue, message, replies)

    async def _kind(self, message: Inbound) -> str:
        words = message.text.split()
        if not words or words[0].lower() in COMMANDS:
            return "command"
        waiting = await self.conversation.desk.waiting_in(message.conversation)
        return "answer" if waiting is not None else "statement"

    def _run_beside(self, call: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(_quietly(call))
        self._beside.add(task)
        task.add_done_callback(self._beside.discard)


async def planning(gateway: SlackGateway, click: Click) -> None:
    """Show that Baton plans, in the assistant thread a Confirm (or a decision) came from."""
    where = click.conversation
    if click.action not in PLANS_ON or where.thread is None or not where.channel.startswith("D"):
        return
    await _quietly(_set_status(gateway, where, texts.SLACK_ASSISTANT_PLANNING))


async def _set_status(gateway: SlackGateway, where: ConversationRef, status: str) -> None:
    token = await gateway.token_args(where.workspace)
    await gateway.client.assistant_threads_setStatus(
        channel_id=where.channel, thread_ts=str(where.thread), status=status, **token
    )


async def _quietly(call: Awaitable[object]) -> None:
    """A status or a title is a courtesy: Slack refusing it (a thread outside the container,
    a workspace without the feature) must not stop the work."""
    try:
        await call
    except SlackApiError as error:
        log.info("Slack assistant call refused: %s", error.response.get("error"))
    except Exception:
        log.exception("Slack assistant call failed")
