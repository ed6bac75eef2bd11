"""Slack requests finished after the acknowledgement, as durable jobs.

The request path only translates the payload and queues it (one XADD), so Slack gets its
acknowledgement in milliseconds whatever Slack's own API or the orchestrator are doing. A
worker then does the rest: posts a statement's thread anchor and starts the intake in that
thread, decides a click, or runs a command that draws a chart; replies go out as a
`slack_reply` job.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.slack import inbound
from bot.slack.gateway import SlackGateway
from bot.slack.replies import SLACK_REPLY, reply_ops
from handlers import texts
from handlers.cards import Card, Click, Inbound, Reply
from handlers.conversation import Conversation
from orchestrator.models import ConversationRef, MessageRef
from orchestrator.notify import deliveries
from orchestrator.notify.deliveries import CallLog
from orchestrator.runtime.queue import Job, JobQueue
from orchestrator.store.redis_store import RedisStore

SLACK_STATEMENT = "slack_statement"
"""The job kind that anchors a stated outcome's thread and starts its intake."""
SLACK_CLICK = "slack_click"
"""The job kind that runs a button press (or the reject modal's submission)."""
SLACK_COMMAND = "slack_command"
"""The job kind that runs a command too heavy for the web process (a chart, a history)."""
ANCHOR_TTL_S = 86_400
Payload = dict[str, Any]

STATEMENT_FIELDS = ("team_id", "channel_id", "user_id", "text", "trigger_id")
"""What a statement job keeps of the slash command (not its token or response_url)."""


async def queue_command(queue: JobQueue, kind: str, body: Payload) -> None:
    """Queue a slash command as a `slack_statement` or `slack_command` job."""
    job = {name: body.get(name, "") for name in STATEMENT_FIELDS}
    await queue.enqueue_gathered(kind, job, workspace=str(body.get("team_id", "")))


async def queue_click(queue: JobQueue, click: Click) -> None:
    workspace = click.conversation.workspace
    await queue.enqueue_gathered(SLACK_CLICK, click_to_json(click), workspace=workspace)


async def enqueue_answer(
    queue: JobQueue, source: Inbound | Click, replies: list[Reply], *, views_changed: bool = False
) -> None:
    """One `slack_reply` job for a request's replies, in order, named after the request's
    delivery: a request run again (its worker died after queuing them) queues the same job
    again, and the calls the first one made are not made twice."""
    ops = reply_ops(source, replies, views_changed=views_changed)
    if ops:
        name = source.delivery_id or uuid.uuid4().hex
        job = {"id": f"answer:{name}", "ops": ops}
        await queue.enqueue(SLACK_REPLY, job, workspace=source.conversation.workspace)


def click_to_json(click: Click) -> Payload:
    return {
        "conversation": click.conversation.model_dump(mode="json"),
        "user": click.user,
        "action": click.action,
        "value": click.value,
        "reason": click.reason,
        "message": click.message.model_dump(mode="json") if click.message else None,
        "delivery_id": click.delivery_id,
    }


def click_from_json(data: Payload) -> Click:
    message = data.get("message")
    return Click(
        conversation=ConversationRef.model_validate(data["conversation"]),
        user=data["user"],
        action=data["action"],
        value=data["value"],
        reason=data.get("reason", ""),
        message=MessageRef.model_validate(message) if message else None,
        delivery_id=data.get("delivery_id"),
    )


class SlackWork:
    """The handlers of the three job kinds."""

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

    async def statement(self, job: Job) -> None:
        """Anchor the thread (once, even when the job is retried), then hand the words to
        the conversation as said in that thread."""
        thread = await self._anchor(job.payload)
        await self._answer(inbound.from_command(job.payload, thread))

    async def command(self, job: Job) -> None:
        await self._answer(inbound.from_command(job.payload))

    async def click(self, job: Job) -> None:
        click = click_from_json(job.payload)
        if self.before_click is not None:
            await self.before_click(click)
        replies = await self.conversation.on_click(click)
        if inbound.answered_directly(click):  # from App Home: said in the person's DMs
            replies = [replace(reply, private=False) for reply in replies]
        await enqueue_answer(self._queue, click, replies)

    async def _answer(self, message: Inbound) -> None:
        await enqueue_answer(self._queue, message, await self.conversation.on_message(message))

    async def _anchor(self, body: Payload) -> str:
        store = self.store
        key = store.keys.dedupe(f"slack_anchor:{body['team_id']}:{body['trigger_id']}")
        posted = await store.redis.get(key)
        if posted is not None:
            return posted.decode() if isinstance(posted, bytes) else str(posted)
        who = await self._name(body["team_id"], body["user_id"])
        text = texts.SLACK_STATED.format(user="@" + who, text=body.get("text", ""))
        where = inbound.conversation(body["team_id"], body["channel_id"])
        posted_as: list[MessageRef] = []

        async def post() -> None:
            posted_as.append(await self.gateway.send(conversation=where, card=Card(title=text)))

        # A delivery of its own: a worker killed after Slack took the anchor but before
        # its ts was kept finds the anchor, run again, instead of posting a second one.
        name = f"slack_anchor:{body['team_id']}:{body['trigger_id']}"
        await deliveries.delivering(CallLog(store.redis, store.keys, name), post)
        await store.redis.set(key, posted_as[0].message_id, ex=ANCHOR_TTL_S)
        return posted_as[0].message_id

    async def _name(self, team: str, user: str) -> str:
        """How people read `user`: the workspace file's name, else Slack's (cached)."""
        where = inbound.conversation(team, "")
        workspace = await self.conversation.desk.named(team, where, [user])
        return workspace.display(user)
