"""Replies to commands and clicks, delivered durably through the job queue.

A listener only enqueues (one XADD) before it acknowledges; a worker posts through the
Web API with pacing and retries, so a Slack outage delays a reply but never loses it, and
each of a reply's calls is made once however often the job runs.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from bot.slack.gateway import SlackGateway
from bot.slack.messages import SlackReply
from handlers.cards import Button, Card, Click, Inbound, Reply
from orchestrator.errors import Refused
from orchestrator.models import ConversationRef, MessageRef
from orchestrator.notify import deliveries
from orchestrator.notify.deliveries import CallLog
from orchestrator.notify.outages import ChannelOutages
from orchestrator.runtime.clock import Clock, SystemClock
from orchestrator.runtime.queue import Delivery, JobQueue
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.slack")

Op = dict[str, Any]


def card_to_json(card: Card) -> dict[str, Any]:
    data = asdict(card)
    data["image_png"] = base64.b64encode(card.image_png).decode() if card.image_png else None
    return data


def card_from_json(data: dict[str, Any]) -> Card:
    image = data.get("image_png")
    return Card(
        title=data["title"],
        lines=tuple(data.get("lines", ())),
        fields=tuple((str(n), str(v)) for n, v in data.get("fields", ())),
        progress=data.get("progress"),
        buttons=tuple(Button(**b) for b in data.get("buttons", ())),
        footer=data.get("footer", ""),
        image_png=base64.b64decode(image) if image else None,
        image_alt=str(data.get("image_alt", "")),
        literal=tuple(int(i) for i in data.get("literal", ())),
    )


def reply_ops(
    source: Inbound | Click, replies: list[Reply], *, views_changed: bool = False
) -> list[Op]:
    """What to call for each reply: whisper, replace the clicked message, or post; then
    the reply's chart, if it has one; last, a refresh of App Home if what waits for whom
    changed (`views_changed`, here or on a reply)."""
    where = source.conversation.model_dump(mode="json")
    ops: list[Op] = []
    for reply in replies:
        card = card_to_json(reply.card)
        op: Op = {"conversation": where, "card": {**card, "image_png": None}}
        if reply.private:
            ops.append({**op, "op": "private", "user": source.user})
        elif reply.replace and isinstance(source, Click) and source.message is not None:
            ops.append({**op, "op": "update", "message": source.message.model_dump(mode="json")})
        else:
            ops.append({**op, "op": "post"})
        if reply.card.image_png:
            ops.append({"conversation": where, "card": card, "op": "upload"})
    if views_changed or any(reply.views_changed for reply in replies):
        ops.append({"conversation": where, "op": "changed"})
    return ops


async def enqueue_replies(queue: JobQueue, source: Inbound | Click, replies: list[Reply]) -> None:
    """One job for all of a request's replies, so they arrive in the order given."""
    ops = reply_ops(source, replies)
    if ops:
        reply = SlackReply(id=uuid.uuid4().hex, ops=tuple(ops))
        await queue.enqueue(reply, workspace=source.conversation.workspace)


class ReplyDelivery:
    """The `SlackReply` job handler. Its calls go through a call log named by the job, so a
    retry after a partial failure (or a deferral) resumes where it stopped instead of posting
    the same message twice, and its messages keep their place in a channel that is down."""

    def __init__(
        self, gateway: SlackGateway, store: RedisStore, clock: Clock | None = None
    ) -> None:
        self.gateway = gateway
        self.store = store
        self.outages = ChannelOutages(store, clock or SystemClock())

    async def __call__(self, reply: SlackReply, work: Delivery) -> None:
        name = f"slack_reply:{reply.id}"
        calls = CallLog(self.store, name, self.outages)
        await deliveries.delivering(calls, lambda: self._run_all(reply.ops))

    async def _run_all(self, ops: Sequence[Op]) -> None:
        """Every op in order; one Slack refuses for good does not keep the others from
        being shown, and the job still fails for it (set aside, with its incident)."""
        refusals: list[Refused] = []
        for op in ops:
            try:
                await self._run(op)
            except Refused as refused:
                log.warning("a reply was refused: %s", refused)
                refusals.append(refused)
        if refusals:
            raise refusals[0]

    async def _run(self, op: Op) -> None:
        where = ConversationRef.model_validate(op["conversation"])
        kind = op["op"]
        if kind == "changed":  # App Home tabs show what waits for whom: refreshed
            await self.gateway.workspace_changed(where.workspace)
            return
        card = card_from_json(op["card"])
        if kind == "private":
            await self.gateway.send_private(conversation=where, user=op["user"], card=card)
        elif kind == "update":
            ref = MessageRef.model_validate(op["message"])
            await self.gateway.update(ref=ref, card=card)
        elif kind == "upload" and card.image_png:
            await self.gateway.upload_image(
                conversation=where, title=card.title, png=card.image_png, alt=card.image_alt
            )
        else:
            await self.gateway.send(conversation=where, card=card)
