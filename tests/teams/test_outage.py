"""Teams: an outage of the connector delays messages and never drops them; every card fits.

The Bot Framework connector double answers 500 for minutes, then recovers: every notice
arrives, in order, none twice, nothing is dead-lettered, and on-call is paged once. A status
card with its chart (over Teams' 28 KB for a card once the chart is inlined) is delivered;
a conversation Baton was removed from sets the job aside at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from botbuilder.schema import Activity

from bot.pacing import MAX_SLEEP_S
from bot.teams.auth import bot_configuration
from bot.teams.delivery import Pacer
from bot.teams.gateway import TeamsGateway
from bot.teams.references import ReferenceStore
from bot.teams.surface import build_adapter
from config.settings import Settings
from handlers.cards import Card, Inbound
from handlers.notifier import ChatNotifier
from handlers.ports import ChatGateway
from orchestrator.models import ConversationRef
from orchestrator.notify.incidents import IncidentKind
from orchestrator.notify.notices import Notice, NoticeKind
from tests.conftest import CHANNEL, Harness
from tests.doubles.bot_connector import CARD_LIMIT, BotConnectorDouble, texts_of
from tests.slack.delivery import RecordingPager, run_for
from tests.slack.test_gateway import FakeTime
from tests.teams.activities import CHANNEL_ID, TENANT, message

HERE = ConversationRef(platform="teams", workspace=TENANT, channel=CHANNEL_ID)


@pytest.fixture
async def double() -> AsyncIterator[BotConnectorDouble]:
    connector = BotConnectorDouble()
    await connector.start()
    yield connector
    await connector.stop()


@pytest.fixture
async def teams(harness: Harness, double: BotConnectorDouble) -> TeamsGateway:
    """The Teams gateway as a worker holds it, its notices delivered on the harness's clock."""
    time = FakeTime()
    return await wired(harness, double, time.clock, time)


async def wired(
    harness: Harness, double: BotConnectorDouble, now: Callable[[], float], time: FakeTime
) -> TeamsGateway:
    """A Teams gateway taking its turns on `now`, as the harness's notifier's."""
    settings = Settings(env="development")
    assert bot_configuration(settings).APP_ID is None
    store = harness.store
    references = ReferenceStore(store.redis, store.keys.prefix)
    await references.remember(Activity().deserialize(message("olivia", "hi", double.service_url)))
    pacer = Pacer(store.redis, store.keys.prefix, now=now, sleep=time.sleep)
    gateway = TeamsGateway(
        build_adapter(settings), references, pacer, app_id=None, sleep=time.sleep
    )
    gateways: dict[str, ChatGateway] = {"teams": gateway, "test": harness.gateway}
    harness.runtime.notifier = ChatNotifier(
        store, gateways, harness.runtime.ctx.workspace_of, harness.clock
    )
    return gateway


@pytest.fixture
def pager(harness: Harness) -> RecordingPager:
    recording = RecordingPager()
    harness.runtime.pager = recording
    return recording


async def say(harness: Harness, text: str) -> None:
    await harness.runtime.ctx.say(Notice(kind=NoticeKind.CHAT, conversation=HERE, text=text))


async def test_an_outage_of_minutes_delays_every_notice_and_loses_none(
    harness: Harness, teams: TeamsGateway, double: BotConnectorDouble, pager: RecordingPager
) -> None:
    queue = harness.runtime.ctx.queue
    double.down(500)
    expected = [f"notice {n}" for n in range(10)]
    for text in expected:
        await say(harness, text)
        await harness.runtime.drain()
        harness.clock.advance(timedelta(seconds=5))
    await run_for(harness, 15 * 60)
    assert double.recorded == [] and await queue.dead() == 0
    double.up()
    await run_for(harness, 10 * 60)
    assert double.titles() == expected  # all of them, in order, none twice
    assert await queue.dead() == 0 and await queue.backlog() == 0
    outage = [p for p in pager.pages if p.kind == IncidentKind.CHAT_UNAVAILABLE.value]
    assert [p.action for p in outage] == ["trigger", "resolve"]
    assert outage[0].details["channel"] == f"teams:{TENANT}:{CHANNEL_ID}"


async def test_a_status_card_with_its_chart_is_delivered(
    harness: Harness, teams: TeamsGateway, double: BotConnectorDouble
) -> None:
    outcome_id = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    replies = await harness.conversation.on_message(
        Inbound(CHANNEL, "olivia", f"status {outcome_id}")
    )
    card = next(r.card for r in replies if r.card.image_png)
    await teams.send(conversation=HERE, card=card)
    assert double.too_big == 0
    (sent,) = double.of("send")
    attachments = sent.body["attachments"]
    assert len(json.dumps(attachments[0]["content"]).encode()) <= CARD_LIMIT
    chart = attachments[1]
    assert chart["contentType"] == "image/png" and chart["contentUrl"].startswith("data:image/png")
    assert sent.title == card.title


async def test_a_card_too_long_for_teams_is_shortened_with_a_pointer(
    teams: TeamsGateway, double: BotConnectorDouble
) -> None:
    card = Card(title="Audit", lines=tuple(f"event {n}: " + "x" * 300 for n in range(200)))
    await teams.send(conversation=HERE, card=card)
    (sent,) = double.of("send")
    assert sent.card is not None and len(json.dumps(sent.card).encode()) <= CARD_LIMIT
    assert "more lines not shown" in texts_of(sent.card["body"][-1])[0]


async def test_a_conversation_baton_was_removed_from_is_set_aside_at_once(
    harness: Harness, teams: TeamsGateway, double: BotConnectorDouble, pager: RecordingPager
) -> None:
    double.failures = [403] * 10
    await say(harness, "hello")
    await harness.runtime.drain()
    await run_for(harness, 120)
    assert double.attempts == 1  # one try: a refusal for good is not retried
    assert await harness.runtime.ctx.queue.dead() == 1
    assert [p.kind for p in pager.pages] == [IncidentKind.JOB_DEAD_LETTERED.value]


async def test_a_429_with_retry_after_defers_the_notices_and_they_arrive_in_order(
    harness: Harness, double: BotConnectorDouble
) -> None:
    """Teams answers 429 with Retry-After 20 s: as with Slack, the conversation's turns
    pause that long, the notices wait on the timers (not in a worker, not in the backoff),
    and all arrive once, in order, none dead."""

    def now() -> float:  # turns on the clock the worker schedules deferred jobs by
        return harness.clock.now().timestamp()

    time = FakeTime()
    await wired(harness, double, now, time)
    double.failures, double.retry_after = [429], "20"
    expected = [f"notice {n}" for n in range(6)]
    for text in expected:
        await say(harness, text)
    await harness.runtime.drain()
    assert double.attempts == 1 and double.recorded == []  # waiting out the 20 s
    await run_for(harness, 60, step=5)
    assert double.titles() == expected
    assert double.attempts == 1 + len(expected)
    assert all(s <= MAX_SLEEP_S for s in time.slept)  # no backoff: waited on the timers
    queue = harness.runtime.ctx.queue
    assert await queue.dead() == 0 and await queue.backlog() == 0
