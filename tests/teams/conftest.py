"""Teams fixtures: Baton's Teams bot driven by botbuilder's TestAdapter over the harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from botbuilder.core.adapters import TestAdapter
from botbuilder.core.serializer_helper import serializer_helper
from botbuilder.schema import Activity

from bot.teams.bot import BatonTeamsBot
from bot.teams.references import ReferenceStore
from handlers.notifier import ChatNotifier
from tests.conftest import Harness


@dataclass
class TeamsTurns:
    """Runs activities through the bot exactly as received (ids kept, for redeliveries)."""

    adapter: TestAdapter
    bot: BatonTeamsBot
    harness: Harness

    async def turn(self, raw: dict[str, Any]) -> list[Activity]:
        """Everything the bot sent in answer, invoke responses included."""
        before = len(self.adapter.activity_buffer)
        activity = Activity().deserialize(raw)
        await self.adapter.run_pipeline(
            self.adapter.create_turn_context(activity), self.bot.on_turn
        )
        await self.harness.runtime.drain()
        return list(self.adapter.activity_buffer[before:])

    async def invoke(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The body of the invoke response."""
        sent = await self.turn(raw)
        responses = [a for a in sent if a.type == "invokeResponse"]
        assert len(responses) == 1, sent
        assert responses[0].value.status == 200
        # Serialized as the web adapter serializes it for Teams.
        return cast(dict[str, Any], serializer_helper(responses[0].value.body))


@pytest.fixture
async def teams(harness: Harness) -> AsyncIterator[TeamsTurns]:
    notifier = cast(ChatNotifier, harness.runtime.notifier)
    # Notices for Teams conversations land in the harness' recording gateway.
    cast(dict[str, Any], notifier.gateways)["teams"] = harness.gateway
    references = ReferenceStore(harness.store.redis, harness.store.keys.prefix)
    bot = BatonTeamsBot(harness.conversation, references)
    yield TeamsTurns(TestAdapter(bot.on_turn), bot, harness)
