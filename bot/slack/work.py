"""Slack requests finished after the acknowledgement, as durable jobs.

The request path only translates the payload and queues it (one XADD), so Slack gets its
acknowledgement in milliseconds whatever Slack's own API or the orchestrator are doing. A
worker then does the rest: posts a statement's thread anchor and starts the intake in that
thread, decides a click, or runs a command that draws a chart; replies go out as a
`SlackReply` job (the messages are in `bot.slack.messages`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.slack import inbound
from bot.slack.gateway import SlackGateway
from bot.slack.messages import SlackClick, SlackCommand, SlackReply, SlackStatement, SlashCommand
from bot.slack.replies import reply_ops
from handlers import texts
from handlers.cards import Card, Click, Inbound, Reply
from handlers.conversation import Conversation
from orchestrator.models import MessageRef
from orchestrator.notify import deliveries
from orchestrator.notify.deliveries import CallLog
from orchestrator.runtime.queue import Delivery, JobQueue
from orchestrator.store.redis_store import RedisStore

ANCHOR_TTL_S = 86_400
Payload = dict[str, Any]

STATEMENT_FIELDS = ("team_id", "channel_id", "user_id", "text", "trigger_id")
"""What a statement job keeps of the slash command (not its token or response_url)."""


async def queue_command(queue: JobQueue, kind: type[SlashCommand], body: Payload) -> None:
    """Queue a slash command as a `SlackStatement` or `SlackCommand` job."""
    command = kind.model_validate({name: body.get(name, "") for name in STATEMENT_FIELDS})
    await queue.enqueue_gathered(command, workspace=str(body.get("team_id", "")))


async def queue_click(queue: JobQueue, click: Click) -> None:
    workspace = click.conversation.workspace
    await queue.enqueue_gathered(SlackClick.of(click), workspace=workspace)


async def enqueue_answer(
    queue: JobQueue, source: Inbound | Click, replies: list[Reply], *, views_changed: bool = False
) -> None:
    """One `slack_reply` job for a request's replies, in order, named after the request's
    delivery: a request run again (its worker died after queuing them) queues the same job
    again, and the calls the first one made are not made twice."""
    ops = reply_ops(source, replies, views_changed=views_changed)
    if ops:
        name = source.delivery_id or uuid.uuid4().hex
        reply = SlackReply(id=f"answer:{name}", ops=tuple(ops))
        await queue.enqueue(reply, workspace=source.conversation.workspace)


class SlackWork:
    """The handlers of the three requests finished in a worker."""

    def __init__(
        self,
        conversation: Conversation,
        gateway: SlackGateway,
        before_click: Callable[[Click], Awaitable[None]] | None = None,
        *,
        store: RedisStore,
        queue: JobQueue,
    ) -> None:
        self.conversation = conversation
        self.gateway = gateway
        self.store = store
        self.queue = queue
        self.before_click = before_click
        """Told each click before it runs (the assistant container's planning status)."""

    @property
    def _queue(self) -> JobQueue:
        return self.queue

    async def statement(self, statement: SlackStatement, work: Delivery) -> None:
        """Anchor the thread (once, even when the job is retried), then hand the words to
        the conversation as said in that thread."""
        thread = await self._anchor(statement)
        await self._answer(inbound.from_command(statement.payload(), thread), work)

    async def command(self, command: SlackCommand, work: Delivery) -> None:
        await self._answer(inbound.from_command(command.payload()), work)

    async def click(self, job: SlackClick, work: Delivery) -> None:
        """Decide the click; what it commits is fenced by `work`, this job."""
        click = job.click(work)
        if self.before_click is not None:
            await self.before_click(click)
        replies = await self.conversation.on_click(click)
        if inbound.answered_directly(click):  # from App Home: said in the person's DMs
            replies = [replace(reply, private=False) for reply in replies]
        await enqueue_answer(self._queue, click, replies)

    async def _answer(self, message: Inbound, work: Delivery) -> None:
        """Hand the words to the conversation; what they commit is fenced by `work`."""
        message = replace(message, work=work)
        await enqueue_answer(self._queue, message, await self.conversation.on_message(message))

    async def _anchor(self, statement: SlackStatement) -> str:
        store = self.store
        team, trigger = statement.team_id, statement.trigger_id
        key = store.keys.dedupe(f"slack_anchor:{team}:{trigger}")
        posted = await store.redis.get(key)
        if posted is not None:
            return posted.decode() if isinstance(posted, bytes) else str(posted)
        who = await self._name(team, statement.user_id)
        text = texts.SLACK_STATED.format(user="@" + who, text=statement.text)
        where = inbound.conversation(team, statement.channel_id)
        posted_as: list[MessageRef] = []

        async def post() -> None:
            posted_as.append(await self.gateway.send(conversation=where, card=Card(title=text)))

        # A delivery of its own: a worker killed after Slack took the anchor but before
        # its ts was kept finds the anchor, run again, instead of posting a second one.
        name = f"slack_anchor:{team}:{trigger}"
        await deliveries.delivering(CallLog(store, name), post)
        await store.redis.set(key, posted_as[0].message_id, ex=ANCHOR_TTL_S)
        return posted_as[0].message_id

    async def _name(self, team: str, user: str) -> str:
        """How people read `user`: the workspace file's name, else Slack's (cached)."""
        where = inbound.conversation(team, "")
        workspace = await self.conversation.desk.named(team, where, [user])
        return workspace.display(user)
