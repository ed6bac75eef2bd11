"""TeamsGateway against the local Bot Framework connector double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from botbuilder.schema import Activity
from redis.asyncio import Redis

from bot.teams.auth import bot_configuration
from bot.teams.delivery import BACKOFF_S, Pacer, TeamsDeliveryError
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
    assert sleeps.taken[:3] == [0.5, 1.0, 2.0]


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
    pacer = Pacer(redis, keys.prefix, now=lambda: 100.2, sleep=sleeps)
    for _ in range(7):
        await pacer.wait("c1")
    assert sum(sleeps.taken) < 1e-6  # seven at once (float rounding aside)
    await pacer.wait("c1")
    assert sum(sleeps.taken) == pytest.approx(1 / 7, abs=1e-3)


async def test_a_429_with_retry_after_pauses_the_conversations_turns(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    """Teams' Retry-After is honoured as Slack's is: the conversation takes no turn for
    that long (here slept, outside a job), then the message goes; no backoff guess."""
    teams, sleeps = gateway
    double.failures, double.retry_after = [429], "3"
    await teams.send(conversation=HERE, card=Card(title="hello"))
    assert double.titles() == ["hello"] and double.attempts == 2
    assert sum(sleeps.taken) == pytest.approx(3.0, abs=0.2)
    assert not set(sleeps.taken) & set(BACKOFF_S)


async def test_retry_after_beyond_what_is_worth_waiting_is_an_outage_that_says_so(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    teams, _ = gateway
    double.failures, double.retry_after = [429], "600"
    with pytest.raises(Unavailable) as down:
        await teams.send(conversation=HERE, card=Card(title="hello"))
    assert down.value.seconds == 600.0 and double.recorded == []


async def test_a_charts_alt_text_reaches_teams(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    teams, _ = gateway
    png = b"\x89PNG\r\n\x1a\n chart"
    alt = "Chart of Monthly churn rate: 7.1% now, target 6%, on track"
    await teams.send(
        conversation=HERE, card=Card(title="Status of o1", image_png=png, image_alt=alt)
    )
    await teams.upload_image(conversation=HERE, title="Week of outcomes", png=png, alt=alt)
    for posted in double.recorded:
        assert posted.card is not None
        images = [e for e in posted.card["body"] if e["type"] == "Image"]
        assert [image["altText"] for image in images] == [alt]


async def test_a_refused_card_goes_again_as_plain_text_teams_does_not_parse(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    teams, _ = gateway
    hostile = "[Verify account](https://evil.example)"
    double.failures = [400]
    await teams.send(conversation=HERE, card=Card(title="Status", lines=(hostile,)))
    (sent,) = double.recorded
    assert sent.card is None and hostile in sent.body["text"]
    assert sent.body["textFormat"] == "plain"


async def test_a_refresh_names_the_people_the_card_concerns_by_their_teams_ids(
    gateway: tuple[TeamsGateway, Sleeps], double: BotConnectorDouble
) -> None:
    """Approvers and owner, as Teams knows them (learnt from what they sent), at most 60:
    the card refreshes itself for them in a chat or channel of any size."""
    teams, _ = gateway
    crowd = [f"person{n}" for n in range(70)]
    for user in ["alice", "bob", *crowd]:
        hello = message(user, "hi", double.service_url)
        await teams.references.remember(Activity().deserialize(hello))
    concerned = replace(APPROVAL, concerns=("alice", "bob", "olivia", "never-wrote"))
    await teams.send(conversation=HERE, card=concerned)
    await teams.send(conversation=HERE, card=replace(APPROVAL, concerns=tuple(crowd)))
    first, crowded = double.recorded
    assert first.card is not None and first.card["refresh"]["userIds"] == [
        "29:alice",
        "29:bob",
        "29:olivia",
    ]
    assert crowded.card is not None
    assert crowded.card["refresh"]["userIds"] == [f"29:{user}" for user in crowd[:60]]
    ref = MessageRef(conversation=HERE, message_id=first.activity_id)
    await teams.update(ref=ref, card=concerned)
    assert double.of("update")[0].card["refresh"]["userIds"][0] == "29:alice"  # type: ignore[index]
