"""TeamsGateway: the `ChatGateway` port over Bot Framework proactive messaging.

Inside a delivery (`orchestrator.notify.deliveries`) each call is made once, and kept in order in
its conversation while Teams is down; every card is sent within Teams' size limit.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.core.cloud_adapter_base import CloudAdapterBase
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    TextFormatTypes,
)

from bot.pacing import take_turns
from bot.teams.adaptive import CARD_LIMIT, REFRESH_USERS, fitted, size, to_adaptive_card
from bot.teams.delivery import UNSHOWABLE, Pacer, Sleep, told_to_wait, with_retries
from bot.teams.references import NoConversationReference, ReferenceStore
from handlers import texts
from handlers.cards import Card
from orchestrator.errors import Refused
from orchestrator.models import ConversationRef, MessageRef
from orchestrator.notify import deliveries

log = logging.getLogger("baton.teams")

Logic = Callable[[TurnContext], Awaitable[Any]]
FALLBACK_LIMIT = 3_000


def card_activity(card: Card, user_ids: Sequence[str] = ()) -> Activity:
    """A message carrying `card` as an Adaptive Card, with its text as the notification,
    within Teams' size limit: a chart that would take the card over it goes with the card as
    an image attachment of its own (Teams does not count base64 images toward the limit),
    and lines that still do not fit are left out with a pointer. A refresh names
    `user_ids`."""
    content, chart = to_adaptive_card(card, user_ids), None
    if size(content) > CARD_LIMIT and card.image_png:
        chart = card.image_png
        card = replace(card, image_png=None)
        content = to_adaptive_card(card, user_ids)
    if size(content) > CARD_LIMIT:
        content = fitted(card, user_ids=user_ids)
    activity = MessageFactory.attachment(CardFactory.adaptive_card(content))
    if chart is not None:
        activity.attachments.append(_image(chart, card.title))
    activity.summary = card.title
    return activity


def _image(png: bytes, title: str) -> Attachment:
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    return Attachment(content_type="image/png", content_url=uri, name=title[:100])


def channel_name(where: ConversationRef) -> str:
    """How a Teams conversation is named in outages and logs."""
    return f"teams:{where.workspace}:{where.channel}"


class TeamsGateway:
    """Posts and updates cards in conversations Baton was contacted in."""

    def __init__(
        self,
        adapter: CloudAdapterBase,
        references: ReferenceStore,
        pacer: Pacer,
        *,
        app_id: str | None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.adapter = adapter
        self.references = references
        self.pacer = pacer
        self.app_id = app_id or ""
        self.sleep = sleep

    async def send(self, *, conversation: ConversationRef, card: Card) -> MessageRef:
        """Post a card; the connector's activity id is the message ref. A card Teams will
        not show goes again as plain text, so the person still hears something."""
        users = await self._user_ids(card)
        try:
            answer = await self._turn(conversation, _sender(card_activity(card, users)))
        except Refused as refused:  # a TeamsDeliveryError, or the same remembered from before
            if refused.code not in UNSHOWABLE:
                raise
            log.warning("Teams refused a card (%s); sent as plain text", refused.code)
            answer = await self._turn(conversation, _sender(_plain(card, refused.code)))
        return MessageRef(conversation=conversation, message_id=str(answer["id"]))

    async def update(self, *, ref: MessageRef, card: Card) -> None:
        """Replace a posted card in place (PUT .../activities/{id}); one message only, so
        a chart that would take it over the size limit is left out (it was shown before)."""
        if card.image_png and size(to_adaptive_card(card)) > CARD_LIMIT:
            card = replace(card, image_png=None)
        activity = card_activity(card, await self._user_ids(card))
        activity.id = ref.message_id

        async def logic(turn: TurnContext) -> Any:
            activity.conversation = turn.activity.conversation
            return await turn.update_activity(activity)

        await self._turn(ref.conversation, logic)

    async def send_private(self, *, conversation: ConversationRef, user: str, card: Card) -> None:
        """A 1:1 chat with `user` (an AAD object id) holding the card."""
        member = await self.references.teams_user(user) or user

        async def logic(turn: TurnContext) -> Any:
            reference = TurnContext.get_conversation_reference(turn.activity)
            parameters = ConversationParameters(
                is_group=False,
                bot=reference.bot,
                members=[ChannelAccount(id=member)],
                tenant_id=conversation.workspace,
            )
            client = turn.turn_state[CloudAdapterBase.BOT_CONNECTOR_CLIENT_KEY]
            created = await client.conversations.create_conversation(parameters)
            return await client.conversations.send_to_conversation(created.id, activity)

        activity = card_activity(card, await self._user_ids(card))
        await self._turn(conversation, logic)

    async def upload_image(
        self, *, conversation: ConversationRef, title: str, png: bytes, alt: str = ""
    ) -> None:
        """A card holding the picture inline (a data URI), with `alt` as its alt text."""
        picture = Card(title=title, image_png=png, image_alt=alt)
        await self._turn(conversation, _sender(card_activity(picture)))

    async def _user_ids(self, card: Card) -> list[str]:
        """The Teams user ids of the people `card` concerns, for its refresh."""
        return await self.references.teams_users(card.concerns, REFRESH_USERS)

    async def _turn(self, where: ConversationRef, logic: Logic) -> dict[str, Any]:
        """One call in the conversation: through the running delivery's log (made once,
        kept in order in its conversation) when there is one."""
        channel = channel_name(where)
        calls = deliveries.current()

        async def make(name: str | None) -> dict[str, Any]:
            return await self._call(where.channel, channel, logic, name)

        if calls is None:
            return await make(None)
        return await calls.call(channel, make)

    async def _call(
        self, conversation_id: str, channel: str, logic: Logic, name: str | None
    ) -> dict[str, Any]:
        """One call in the conversation's turn (`name` is its stable name in a delivery)."""
        try:
            reference = await self.references.reference(conversation_id)
        except NoConversationReference as missing:
            raise Refused(channel, "Baton was never contacted in this conversation") from missing
        result: list[Any] = []

        async def run() -> None:
            async def callback(turn: TurnContext) -> None:
                result.append(await logic(turn))

            await self.adapter.continue_conversation(reference, callback, self.app_id)

        async def attempts() -> None:
            await with_retries(channel, run, sleep=self.sleep)

        await take_turns(
            self.pacer,
            conversation_id,
            name,
            attempts,
            throttled=told_to_wait,
            channel=channel,
            what="Teams",
        )
        return {"id": getattr(result[-1], "id", None)}


def _plain(card: Card, status: str) -> Activity:
    """The plain-text stand-in for a card Teams would not show, short enough to be."""
    text = texts.FALLBACK_MESSAGE.format(reason=f"HTTP {status}", text=card.text())
    activity = MessageFactory.text(text if len(text) <= FALLBACK_LIMIT else text[:FALLBACK_LIMIT])
    activity.text_format = TextFormatTypes.plain  # shown as written: no Markdown, no links
    return activity


def _sender(activity: Activity) -> Logic:
    """A new post in the conversation (POST .../activities), never a reply to the
    continuation event that `continue_conversation` made up."""

    async def logic(turn: TurnContext) -> Any:
        reference = TurnContext.get_conversation_reference(turn.activity)
        outgoing = TurnContext.apply_conversation_reference(activity, reference)
        outgoing.type = outgoing.type or ActivityTypes.message
        outgoing.reply_to_id = None
        client = turn.turn_state[CloudAdapterBase.BOT_CONNECTOR_CLIENT_KEY]
        return await client.conversations.send_to_conversation(outgoing.conversation.id, outgoing)

    return logic
