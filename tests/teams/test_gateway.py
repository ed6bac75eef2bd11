"""TeamsGateway against the local Bot Framework connector double."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from botbuilder.schema import Activity
from redis.asyncio import Redis

from bot.teams.auth import bot_configuration
from bot.teams.delivery import Pacer, TeamsDeliveryError
from bot.teams.gateway import TeamsGateway
from bot.teams.references import NoConversationReference, ReferenceStore
from bot.teams.surface import build_adapter
from config.settings import Settings
from handlers.cards import Button, Card
from orchestrator.errors import Refused, Unavailable
from orchestrator.models import ConversationRef, MessageRef
from orchestrator.store.keys import Keys
from tests.doubles.bot_connector import BotConnectorDouble
from tests.teams.activities import CHANNEL_ID, TENANT, message

HERE = ConversationRef(platform="teams", workspace=TENANT, channel=CHANNEL_ID)
APPROVAL = Card(
    title="Approval needed: send",
    buttons=(
        Button("Approve", "approve", "a1", "primary"),
        Button("Reject", "reject", "a1", "danger", asks_reason=True),
    ),
)


class Sleeps:
    """Records the pauses asked for instead of taking them."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


@pytest.fixture
async def double() -> AsyncIterator[BotConnectorDouble]:
    connector = BotConnectorDouble()
    await connector.start()
    yield connector
    await connector.stop()


@pytest.fixture
async def gateway(
    redis: Redis, keys: Keys, double: BotConnectorDouble
) -> tuple[TeamsGateway, Sleeps]:
    settings = Settings(env="development")
    assert bot_configuration(settings).APP_ID is None
    references = ReferenceStore(redis, keys.prefix)
    await references.remember(Activity().deserialize(message("olivia", "hi", double.service_url)))
    sleeps = Sleeps()
    pacer = Pacer(redis, keys.prefix, sleep=sleeps)
    built = TeamsGateway(build_adapter(settings), references, pacer, app_id=None, sleep=sleeps)
    return built, sleeps


async def test_send_posts_an_adaptive_card_and_update_puts_it(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    teams, _ = gateway
    ref = await teams.send(conversation=HERE, card=APPROVAL)
    await teams.update(ref=ref, card=Card(title="Approved by @alice at 14:02"))
    sent, updated = double.recorded
    assert (sent.kind, sent.conversation) == ("send", CHANNEL_ID)
    assert sent.card is not None and sent.card["refresh"]["action"]["verb"] == "refresh"
    assert [a["verb"] for a in sent.card["actions"]] == ["approve", "reject"]
    assert (updated.kind, updated.activity_id) == ("update", ref.message_id)
    assert updated.title == "Approved by @alice at 14:02"


async def test_throttling_is_retried_with_backoff(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    teams, sleeps = gateway
    double.failures = [429, 412, 502]
    await teams.send(conversation=HERE, card=Card(title="hello"))
    assert double.titles() == ["hello"]
    for taken, backoff in zip(sleeps.taken[:3], [0.5, 1.0, 2.0], strict=True):
        assert backoff <= taken <= backoff + 0.25  # plus jitter


async def test_a_delivery_that_keeps_failing_raises_for_the_job_queue(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    teams, _ = gateway
    double.failures = [429] * 10
    with pytest.raises(Unavailable) as down:
        await teams.send(conversation=HERE, card=Card(title="hello"))
    assert down.value.channel == f"teams:{TENANT}:{CHANNEL_ID}"
    assert double.recorded == []


async def test_other_errors_are_not_retried(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    teams, sleeps = gateway
    double.failures = [403]
    with pytest.raises(TeamsDeliveryError):
        await teams.send(conversation=HERE, card=Card(title="hello"))
    assert sleeps.taken == []


async def test_private_cards_go_to_a_one_to_one_chat(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    teams, _ = gateway
    await teams.send_private(conversation=HERE, user="olivia", card=Card(title="just you"))
    created, sent = double.recorded
    assert created.kind == "create"
    assert created.body["members"] == [{"id": "29:olivia"}]
    assert (sent.conversation, sent.title) == (created.conversation, "just you")


async def test_unknown_conversation_raises(gateway: tuple[TeamsGateway, Sleeps]) -> None:
    teams, _ = gateway
    elsewhere = ConversationRef(platform="teams", workspace=TENANT, channel="19:never")
    with pytest.raises(Refused) as refused:  # for good: the job is set aside, not retried
        await teams.send(conversation=elsewhere, card=Card(title="x"))
    assert isinstance(refused.value.__cause__, NoConversationReference)
    with pytest.raises(Refused):
        await teams.update(ref=MessageRef(conversation=elsewhere, message_id="1"), card=Card("x"))


async def test_pacing_holds_the_eighth_message_in_a_second(redis: Redis, keys: Keys) -> None:
    sleeps = Sleeps()
    moments = iter([100.2] * 9 + [101.0])
    pacer = Pacer(redis, keys.prefix, now=lambda: next(moments), sleep=sleeps)
    for _ in range(7):
        await pacer.wait_turn("c1")
    assert sleeps.taken == []
    await pacer.wait_turn("c1")
    assert [round(s, 3) for s in sleeps.taken] == [0.8]
