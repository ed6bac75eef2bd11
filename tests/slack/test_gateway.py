"""SlackGateway against the Web API double: what it calls, pacing, 429 and 500."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import to_blocks
from bot.slack.gateway import SlackGateway, SlackRefused
from bot.slack.pacing import ChannelPacer
from handlers.cards import Button, Card
from orchestrator.errors import Unavailable
from orchestrator.models import ConversationRef
from tests.doubles.slack_api import SlackApiDouble, _as_list
from tests.slack.conftest import BOT_TOKEN, small_png

WHERE = ConversationRef(platform="slack", workspace="T1", channel="C9", thread="1.000001")
CARD = Card(
    title="Approval needed: <send> & more",
    lines=("line one",),
    fields=(("Cost", "GBP 0"),),
    progress=0.5,
    buttons=(Button("Approve", "approve", "a3", "primary"), Button("Reject", "reject", "a3")),
    footer="footer",
)


class FakeTime:
    """Injected clock and sleep: sleeping advances the clock, nobody waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def gateway(double: SlackApiDouble, time: FakeTime) -> SlackGateway:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=double.base_url)
    pacer = ChannelPacer(per_second=1.0, burst=2, clock=time.clock, sleep=time.sleep)
    return SlackGateway(client, pacer=pacer, sleep=time.sleep)


async def test_send_update_private(slack_api: SlackApiDouble) -> None:
    slack = gateway(slack_api, FakeTime())
    ref = await slack.send(conversation=WHERE, card=CARD)
    await slack.update(ref=ref, card=Card(title="Approved by @alice at 14:02"))
    await slack.send_private(conversation=WHERE, user="U2", card=Card(title="Not you"))
    posted, updated = slack_api.called("chat.postMessage")[0], slack_api.called("chat.update")[0]
    assert posted["channel"] == "C9" and posted["thread_ts"] == "1.000001"
    assert posted["blocks"] == to_blocks(CARD)
    assert "&lt;send&gt; &amp; more" in posted["blocks"][0]["text"]["text"]
    actions = next(b for b in posted["blocks"] if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == ["baton_approve", "baton_reject"]
    assert updated["ts"] == ref.message_id and "actions" not in str(updated["blocks"])
    assert slack_api.called("chat.postEphemeral")[0]["user"] == "U2"
    assert {c.token for c in slack_api.calls} == {BOT_TOKEN}


async def test_pacing_one_per_second_after_burst(slack_api: SlackApiDouble) -> None:
    time = FakeTime()
    slack = gateway(slack_api, time)
    for n in range(4):
        await slack.send(conversation=WHERE, card=Card(title=f"m{n}"))
    await slack.send(conversation=WHERE.model_copy(update={"channel": "C8"}), card=CARD)
    assert time.slept == [pytest.approx(1.0), pytest.approx(1.0)]
    assert len(slack_api.called("chat.postMessage")) == 5


async def test_429_waits_retry_after_then_delivers(slack_api: SlackApiDouble) -> None:
    time = FakeTime()
    slack = gateway(slack_api, time)
    slack_api.fail_next(429, 2, retry_after=7)
    await slack.send(conversation=WHERE, card=CARD)
    assert time.slept.count(7.0) == 2
    assert slack_api.refused == 2 and len(slack_api.called("chat.postMessage")) == 1


async def test_outage_raises_so_the_job_is_retried(slack_api: SlackApiDouble) -> None:
    slack = gateway(slack_api, FakeTime())
    slack_api.fail_next(500, 1)
    with pytest.raises(Unavailable, match=r"chat\.postMessage") as down:
        await slack.send(conversation=WHERE, card=CARD)
    assert down.value.channel == "slack:T1:C9"
    slack_api.fail_next(429, 3, retry_after=120)
    with pytest.raises(Unavailable) as throttled:
        await slack.update(ref=(await _sent(slack)), card=CARD)
    assert throttled.value.seconds == 120


async def test_a_refusal_for_good_is_not_an_outage(slack_api: SlackApiDouble) -> None:
    slack = gateway(slack_api, FakeTime())
    slack_api.refuse_next("channel_not_found", 2)
    with pytest.raises(SlackRefused) as refused:
        await slack.send(conversation=WHERE, card=CARD)
    assert refused.value.code == "channel_not_found" and slack_api.refused == 1


async def _sent(slack: SlackGateway):  # type: ignore[no-untyped-def]
    return await slack.send(conversation=WHERE, card=CARD)


async def test_upload_a_real_png(slack_api: SlackApiDouble) -> None:
    png = small_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    slack = gateway(slack_api, FakeTime())
    await slack.upload_image(conversation=WHERE, title="churn_rate vs trajectory", png=png)
    assert list(slack_api.uploads.values()) == [png]
    completed = slack_api.called("files.completeUploadExternal")[0]
    assert completed["channel_id"] == "C9" and completed["thread_ts"] == "1.000001"


HOSTILE = "<!here> <!channel> <https://evil.example|Verify account>"
HOSTILE_CARD = Card(
    title=f"Outcome o1: {HOSTILE}",
    lines=(f"Rejected by @bob: {HOSTILE}", "Draft (sent exactly as shown):", HOSTILE),
    fields=(("Reason", HOSTILE),),
    literal=(2,),
    mentions=("U0APPROVER",),
)


def parsed_texts(params: dict[str, Any]) -> list[str]:
    """What Slack reads as mrkdwn in a message: its text and every mrkdwn text object."""
    found = [str(params.get("text", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)

    walk(_as_list(params.get("blocks")))
    return found


def assert_inert(params: dict[str, Any]) -> None:
    for text in parsed_texts(params):
        assert "<!here>" not in text and "<!channel>" not in text and "<https://" not in text


async def test_data_and_drafts_mention_nobody_and_link_nowhere_in_any_field(
    slack_api: SlackApiDouble,
) -> None:
    """The message text (what notifications show) and the blocks escape data and drafts;
    only the card's own mentions notify; a refused message's plain stand-in too."""
    slack = gateway(slack_api, FakeTime())
    await slack.send(conversation=WHERE, card=HOSTILE_CARD)
    await slack.send_private(conversation=WHERE, user="U2", card=HOSTILE_CARD)
    slack_api.refuse_next("invalid_blocks", 1, method="chat.postMessage")
    await slack.send(conversation=WHERE, card=HOSTILE_CARD)
    posted = slack_api.called("chat.postMessage")
    sent = [*posted, *slack_api.called("chat.postEphemeral")]
    assert len(sent) == 3 and "blocks" not in posted[-1]  # the stand-in is plain text
    for params in sent:
        assert_inert(params)
    assert posted[0]["text"].startswith("Waiting for <@U0APPROVER>")  # the card's own mention
    assert "&lt;!here&gt;" in posted[0]["text"] and "&lt;!here&gt;" in posted[-1]["text"]
