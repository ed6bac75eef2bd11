"""BatonTeamsBot: Teams activities in, the neutral conversation's replies out.

Every turn records where it came from (the conversation reference), then delegates to
`Conversation.on_message` / `on_click`, which only do Redis work and enqueue jobs, so invokes
are answered well inside Teams' 5 seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from botbuilder.core import ActivityHandler, InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.cloud_adapter_base import CloudAdapterBase
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters
from msrest.serialization import Model

from bot.teams.adaptive import (
    CONTENT_TYPE,
    REFRESH_USERS,
    REFRESH_VERB,
    click_data,
    to_adaptive_card,
)
from bot.teams.edit_card import EDIT_VERBS, EditCards
from bot.teams.gateway import card_activity
from bot.teams.references import ReferenceStore, to_conversation_ref
from handlers import render, texts
from handlers.cards import Card, Click, Inbound, Reply
from handlers.conversation import Conversation, transient
from orchestrator.errors import NotFound
from orchestrator.models import ConversationRef
from orchestrator.people.actors import Actor

log = logging.getLogger("baton.teams")
INVOKE_NAME = "adaptiveCard/action"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"


def person(activity: Activity) -> str:
    """Who acted: the AAD object id, which is how workspaces name owners and approvers."""
    sender = activity.from_property
    return str(sender.aad_object_id or sender.id)


def delivery_of(activity: Activity, where: ConversationRef) -> str | None:
    """The activity's id, in its tenant's words: Teams' ids are its own, not Slack's."""
    return f"teams:{where.workspace}:{activity.id}" if activity.id else None


def to_inbound(activity: Activity) -> Inbound:
    where = to_conversation_ref(activity)
    return Inbound(
        conversation=where,
        user=person(activity),
        text=TurnContext.remove_recipient_mention(activity) or "",
        delivery_id=delivery_of(activity, where),
    )


def to_click(activity: Activity, data: object) -> Click | None:
    parsed = click_data(data)
    if parsed is None:
        return None
    action, value, reason = parsed
    where = to_conversation_ref(activity)
    return Click(
        conversation=where,
        user=person(activity),
        action=action,
        value=value,
        reason=reason,
        delivery_id=delivery_of(activity, where),
    )


class InvokeBody(Model):
    """The `adaptiveCard/action` answer. botbuilder's own model types `value` as a dict,
    but a message answer's value is a string, so this one takes either."""

    _attribute_map = {
        "status_code": {"key": "statusCode", "type": "int"},
        "type": {"key": "type", "type": "str"},
        "value": {"key": "value", "type": "object"},
    }

    def __init__(self, *, type: str, value: object) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.status_code = 200
        self.type = type
        self.value = value


def card_response(card: Card, user_ids: Sequence[str] = ()) -> InvokeResponse:
    """The invoke answered with `card`; its refresh, if any, names `user_ids`."""
    body = InvokeBody(type=CONTENT_TYPE, value=to_adaptive_card(card, user_ids))
    return InvokeResponse(status=int(HTTPStatus.OK), body=body)


def message_response(text: str) -> InvokeResponse:
    """A message only the clicking person sees; their card stays as it is."""
    return InvokeResponse(status=int(HTTPStatus.OK), body=InvokeBody(type=MESSAGE_TYPE, value=text))


class BatonTeamsBot(ActivityHandler):  # type: ignore[misc]
    def __init__(self, conversation: Conversation, references: ReferenceStore) -> None:
        super().__init__()
        self.conversation = conversation
        self.references = references
        self.edits = EditCards(conversation)

    async def on_turn(self, turn_context: TurnContext) -> None:
        """Save the conversation reference first: any turn may be the first contact."""
        activity = turn_context.activity
        if activity.conversation is not None and activity.service_url:
            await self.references.remember(activity)
            await self._remember_name(activity)
        await super().on_turn(turn_context)

    async def _remember_name(self, activity: Activity) -> None:
        """Teams names the sender with every activity: kept, so cards show people by name."""
        sender = activity.from_property
        if sender is None or not sender.name:
            return
        where = to_conversation_ref(activity)
        await self.conversation.desk.remember_name(where, person(activity), sender.name)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        click = to_click(activity, activity.value)  # an Action.Submit from an older client
        try:
            if click is not None:
                replies = await self.conversation.on_click(click)
            else:
                replies = await self.conversation.on_message(to_inbound(activity))
        except Exception as error:
            if not transient(error):
                raise
            replies = [Reply(Card(title=texts.BUSY), private=True)]
        for reply in replies:
            await self._reply(turn_context, reply)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(MessageFactory.text(texts.TEAMS_WELCOME))

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        """Nothing to say: the reference is already saved, and Teams also sends an
        installationUpdate, which is where Baton introduces itself."""

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name != INVOKE_NAME:
            return await super().on_invoke_activity(turn_context)
        action = activity.value.get("action", {}) if isinstance(activity.value, dict) else {}
        data = action.get("data") if isinstance(action, dict) else None
        try:
            if isinstance(action, dict) and action.get("verb") == REFRESH_VERB:
                return await self._refresh(activity, data)
            if isinstance(action, dict) and action.get("verb") in EDIT_VERBS:
                return await self._edit(activity, str(action["verb"]), data)
            click = to_click(activity, data)
            if click is None:
                return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST))
            replies = await self.conversation.on_click(click)
            return await self._answer(turn_context, click, replies)
        except Exception as error:
            if not transient(error):
                raise
            return message_response(texts.BUSY)  # nothing was decided: the person tries again

    async def _answer(
        self, turn_context: TurnContext, click: Click, replies: list[Reply]
    ) -> InvokeResponse:
        said: Card | None = None
        for reply in replies:
            if reply.replace:
                await self._replace_for_everyone(turn_context, reply.card)
                return card_response(reply.card, await self._user_ids(reply.card))
            if reply.private and not reply.card.buttons:
                return message_response(reply.card.text())
            # An offer with a button (a rule to accept) must stay clickable, so it is posted
            # as a card in the conversation (only owners and approvers may accept it), while
            # the invoke still answers with the refreshed approval.
            await turn_context.send_activity(await self._activity(reply.card))
            said = reply.card
        if click.action in ("approve", "reject"):
            return await self._refresh(turn_context.activity, {"value": click.value})
        if said is not None:  # what the click did, said to everyone: its card says it too
            return card_response(replace(said, buttons=()))
        return message_response(texts.TEAMS_ALREADY_HANDLED)

    async def _replace_for_everyone(self, turn_context: TurnContext, card: Card) -> None:
        """The invoke's answer replaces the card for the person who clicked only; the
        message itself is updated too, so everyone else sees it (a Statement once
        confirmed has no Confirm left to press)."""
        clicked = turn_context.activity.reply_to_id
        if not clicked:
            return
        activity = await self._activity(card)
        activity.id = clicked
        try:
            await turn_context.update_activity(activity)
        except Exception as error:  # the clicker's card is right; the rest see it later
            if transient(error):
                raise
            log.warning("card %s not updated for everyone", clicked, exc_info=True)

    async def _edit(self, activity: Activity, verb: str, data: Any) -> InvokeResponse:
        """The input card (`edit_card`), or once the edit is approved, the approval card."""
        where = to_conversation_ref(activity)
        actor = Actor(person(activity), where, delivery_of(activity, where))
        card = await self.edits.answer(actor, verb, data if isinstance(data, dict) else {})
        if card is None:
            return await self._refresh(activity, data)
        return InvokeResponse(
            status=int(HTTPStatus.OK), body=InvokeBody(type=CONTENT_TYPE, value=card)
        )

    async def _refresh(self, activity: Activity, data: Any) -> InvokeResponse:
        """The approval card as it stands now, for whoever opens or clicks it in the tenant
        that owns it; in any other, it does not exist."""
        value = data.get("value") if isinstance(data, dict) else None
        actor = Actor(person(activity), to_conversation_ref(activity))
        card = await self._approval_card(value, actor) if isinstance(value, str) else None
        if card is None:
            return message_response(texts.INTAKE_GONE)
        return card_response(card, await self._user_ids(card))

    async def _approval_card(self, approval_id: str, actor: Actor) -> Card | None:
        desk = self.conversation.desk
        try:
            approval, step, outcome = await desk.approval_for(actor, approval_id)
        except NotFound:
            return None
        people = render.named_on_approval(approval)
        workspace = await desk.named(outcome.workspace, actor.where, people)
        return render.approval_card(approval, step, outcome, workspace)

    async def _user_ids(self, card: Card) -> list[str]:
        """The Teams user ids of the people `card` concerns, for its refresh, as the
        gateway names them: cards answered here refresh by themselves for the same people."""
        return await self.references.teams_users(card.concerns, REFRESH_USERS)

    async def _activity(self, card: Card) -> Activity:
        return card_activity(card, await self._user_ids(card))

    async def _reply(self, turn_context: TurnContext, reply: Reply) -> None:
        # In a personal chat the conversation is already private; elsewhere a private reply
        # goes to a 1:1 chat with the person.
        activity = await self._activity(reply.card)
        if reply.private and turn_context.activity.conversation.conversation_type != "personal":
            await self._private(turn_context, activity)
            return
        await turn_context.send_activity(activity)

    async def _private(self, turn_context: TurnContext, activity: Activity) -> None:
        incoming = turn_context.activity
        parameters = ConversationParameters(
            is_group=False,
            bot=incoming.recipient,
            members=[incoming.from_property],
            tenant_id=to_conversation_ref(incoming).workspace,
        )
        client = turn_context.turn_state[CloudAdapterBase.BOT_CONNECTOR_CLIENT_KEY]
        created = await client.conversations.create_conversation(parameters)
        await client.conversations.send_to_conversation(created.id, activity)
