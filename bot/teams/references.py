"""Conversation references in Redis, saved at first contact, so proactive messages survive
restarts. Also who each person is in Teams (AAD object id -> Teams user id) for 1:1 chats."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationReference
from redis.asyncio import Redis

from orchestrator.models import ConversationRef


class NoConversationReference(LookupError):
    """Baton was never contacted in this conversation, so it cannot post there."""


def to_conversation_ref(activity: Activity) -> ConversationRef:
    """Where an activity happened, in the core's words: tenant and conversation ids."""
    conversation = activity.conversation
    tenant = conversation.tenant_id or _tenant_from_channel_data(activity.channel_data)
    return ConversationRef(platform="teams", workspace=tenant or "teams", channel=conversation.id)


def _tenant_from_channel_data(data: Any) -> str | None:
    tenant = data.get("tenant") if isinstance(data, dict) else None
    value = tenant.get("id") if isinstance(tenant, dict) else None
    return value if isinstance(value, str) else None


class ReferenceStore:
    """Redis hashes: one conversation reference per conversation id, one Teams id per person."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self._refs = f"{prefix}:teams:refs"
        self._people = f"{prefix}:teams:people"

    async def remember(self, activity: Activity) -> None:
        """Save where this activity came from; later turns overwrite a moved serviceUrl."""
        reference = TurnContext.get_conversation_reference(activity)
        # Proactive messages start new posts; they do not reply to whatever came in last.
        reference.activity_id = None
        await self.redis.hset(self._refs, activity.conversation.id, _dumps(reference))
        person = activity.from_property
        if person is not None and person.aad_object_id and person.id:
            await self.redis.hset(self._people, person.aad_object_id, person.id)

    async def reference(self, conversation_id: str) -> ConversationReference:
        raw = await self.redis.hget(self._refs, conversation_id)
        if raw is None:
            raise NoConversationReference(conversation_id)
        return ConversationReference().deserialize(_loads(raw))

    async def teams_user(self, aad_object_id: str) -> str | None:
        raw = await self.redis.hget(self._people, aad_object_id)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def teams_users(self, people: Iterable[str], limit: int) -> list[str]:
        """The Teams user ids of `people` (AAD object ids), in order, at most `limit`;
        people who never wrote to Baton are not known to Teams by an id Baton has."""
        found: list[str] = []
        for person in people:
            teams_id = await self.teams_user(person)
            if teams_id and teams_id not in found:
                found.append(teams_id)
            if len(found) == limit:
                break
        return found


def _dumps(reference: ConversationReference) -> str:
    return json.dumps(reference.serialize())


def _loads(raw: bytes | str) -> Any:
    return json.loads(raw)
