"""TeamsGateway: the `ChatGateway` port over Bot Framework proactive messaging."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.core.cloud_adapter_base import CloudAdapterBase
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationParameters

from bot.teams.adaptive import to_adaptive_card
from bot.teams.delivery import Pacer, Sleep, with_retries
from bot.teams.references import ReferenceStore
from handlers.cards import Card
from orchestrator.models import ConversationRef, MessageRef

Logic = Callable[[TurnContext], Awaitable[Any]]


def card_activity(card: Card) -> Activity:
    """A message carrying `card` as an Adaptive Card, with its text as the notification."""
    activity = MessageFactory.attachment(CardFactory.adaptive_card(to_adaptive_card(card)))
    activity.summary = card.title
    return activity


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
        """Post a card; the connector's activity id is the message ref."""
        response = await self._turn(conversation.channel, _sender(card_activity(card)))
        return MessageRef(conversation=conversation, message_id=response.id)

    async def update(self, *, ref: MessageRef, card: Card) -> None:
        """Replace a posted card in place (PUT .../activities/{id})."""
        activity = card_activity(card)
        activity.id = ref.message_id

        async def logic(turn: TurnContext) -> Any:
            activity.conversation = turn.activity.conversation
            return await turn.update_activity(activity)

        await self._turn(ref.conversation.channel, logic)

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
            return await client.conversations.send_to_conversation(created.id, card_activity(card))

        await self._turn(conversation.channel, logic)

    async def upload_image(self, *, conversation: ConversationRef, title: str, png: bytes) -> None:
        """Teams takes images inline, as a data URI attachment."""
        uri = "data:image/png;base64," + base64.b64encode(png).decode()
        image = MessageFactory.content_url(uri, "image/png", name=title, text=title)
        await self._turn(conversation.channel, _sender(image))

    async def _turn(self, conversation_id: str, logic: Logic) -> Any:
        reference = await self.references.reference(conversation_id)
        await self.pacer.wait_turn(conversation_id)
        result: list[Any] = []

        async def run() -> None:
            async def callback(turn: TurnContext) -> None:
                result.append(await logic(turn))

            await self.adapter.continue_conversation(reference, callback, self.app_id)

        await with_retries(conversation_id, run, sleep=self.sleep)
        return result[-1]


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
