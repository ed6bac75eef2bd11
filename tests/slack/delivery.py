"""Baton's Slack delivery wired as a worker runs it, on a test harness's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.gateway import SlackGateway
from bot.slack.messages import SlackReply
from bot.slack.pacing import ChannelPacer
from bot.slack.replies import ReplyDelivery
from handlers.conversation import Conversation
from handlers.notifier import ChatNotifier
from orchestrator.models import ConversationRef
from orchestrator.notify.incidents import Incident
from orchestrator.runtime.desk import Desk
from tests.conftest import Harness
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import BOT_TOKEN
from tests.slack.test_gateway import FakeTime

WHERE = ConversationRef(platform="slack", workspace="T1", channel="C1")


class RecordingPager:
    def __init__(self) -> None:
        self.pages: list[Incident] = []

    async def page(self, incident: Incident) -> None:
        self.pages.append(incident)


@dataclass
class Wired:
    slack: SlackGateway
    pager: RecordingPager


def wire(harness: Harness, api: SlackApiDouble, *, burst: int = 5) -> Wired:
    """Baton's Slack delivery as a worker runs it, on the harness's clock: notices of the
    `slack` platform (and of the harness's `test` one) and `slack_reply` jobs."""

    def now() -> float:
        return harness.clock.now().timestamp()

    client = AsyncWebClient(token=BOT_TOKEN, base_url=api.base_url)
    pacer = ChannelPacer(burst=burst, clock=now, sleep=FakeTime().sleep)
    slack = SlackGateway(client, pacer=pacer, tier4=ChannelPacer(clock=now, sleep=FakeTime().sleep))
    store, ctx = harness.store, harness.runtime.ctx
    gateways = {"slack": slack, "test": slack}
    notifier = ChatNotifier(store, gateways, ctx.workspace_of, harness.clock)
    harness.runtime.notifier = notifier
    # People are named through the new notifier's gateways, as a process wires it.
    harness.conversation = Conversation(Desk(harness.runtime, names=notifier.names))
    harness.runtime.register(SlackReply, ReplyDelivery(slack, store, harness.clock))
    pager = RecordingPager()
    harness.runtime.pager = pager
    return Wired(slack, pager)


async def run_for(harness: Harness, seconds: int, step: int = 15) -> None:
    """Let `seconds` pass on the clock, running whatever comes due on the way."""
    for _ in range(seconds // step):
        harness.clock.advance(timedelta(seconds=step))
        await harness.runtime.drain()
