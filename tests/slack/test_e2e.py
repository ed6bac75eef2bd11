"""End to end: `baton web` + `baton run` as processes; Slack requests in, API calls out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import pytest

from bot.demo.simulation import Business
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import (
    block_action,
    command_body,
    event_body,
    interaction_body,
    view_submission,
)
from tests.slack.processes import Baton, baton_env, eventually, serving

STATEMENT = "Cut monthly churn by 2% by the end of Q1, with a budget of £500"
REJECTION = "Too generous: keep discounts at 10% or less"
MAX_DAYS = 60
CHECK_ATTEMPTS = 4
CHECK_WAIT_S = 5.0


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    env = baton_env(slack_api.base_url, tmp_path / "state", business.path)
    async with serving(env, tmp_path) as running:
        yield running


class Slack:
    """Sends what Slack would send, numbering triggers and actions."""

    def __init__(self, baton: Baton, api: SlackApiDouble) -> None:
        self.baton = baton
        self.api = api
        self.n = 0

    async def command(self, text: str, user: str) -> int:
        self.n += 1
        status, _ = await self.baton.post(*command_body(text, user=user, trigger=f"t{self.n}"))
        return status

    async def reply(self, text: str, user: str, thread: str, event_id: str) -> int:
        self.n += 1
        event = {
            "type": "message",
            "channel": "C1",
            "channel_type": "channel",
            "user": user,
            "text": text,
            "ts": f"1700002000.{self.n:06d}",
            "thread_ts": thread,
        }
        status, _ = await self.baton.post(*event_body(event, event_id))
        return status

    async def mention(self, text: str, user: str, thread: str, event_id: str) -> int:
        self.n += 1
        event = {
            "type": "app_mention",
            "channel": "C1",
            "user": user,
            "text": f"<@UBATON> {text}",
            "ts": f"1700002000.{self.n:06d}",
            "thread_ts": thread,
        }
        status, _ = await self.baton.post(*event_body(event, event_id))
        return status

    async def click(self, action: str, value: str, user: str) -> int:
        self.n += 1
        _, ts, thread = next(b for b in self.api.buttons(action) if b[0] == value)
        payload = block_action(
            action, value, user=user, channel="C1", ts=ts, thread=thread, n=self.n
        )
        status, _ = await self.baton.post(*interaction_body(payload))
        return status

    def posted(self, needle: str) -> list[str]:
        return [t for t in self.api.texts() if needle in t]

    def updated(self, needle: str) -> list[str]:
        return [t for t in self.api.texts("chat.update") if needle in t]


async def test_the_demo_story_through_slack(
    baton: Baton, slack_api: SlackApiDouble, business: Business
) -> None:
    slack = Slack(baton, slack_api)
    assert await slack.command(STATEMENT, "olivia") == 200
    # Acknowledged at once; a worker anchors the thread right after.
    await eventually(lambda: slack_api.called("chat.postMessage"), "the thread anchor")
    anchor = slack_api.called("chat.postMessage")[0]
    assert "stated an outcome" in anchor["text"] and anchor["channel"] == "C1"
    thread = next(c.answer["ts"] for c in slack_api.calls if c.method == "chat.postMessage")
    await eventually(lambda: slack.posted("percentage points"), "the clarifying question")
    assert slack_api.called("chat.postMessage")[1]["thread_ts"] == thread

    assert await slack.reply("points", "olivia", thread, "Ev1") == 200
    # Slack redelivers the same event: it must not count twice.
    assert await slack.reply("points", "olivia", thread, "Ev1") == 200
    session = (await eventually(lambda: slack_api.buttons("confirm"), "Confirm"))[0][0]
    assert await slack.click("confirm", session, "olivia") == 200
    await eventually(lambda: slack.updated("Confirmed: outcome o1"), "Confirm to replace")
    a3 = (await eventually(lambda: slack_api.buttons("approve"), "the first approval"))[0][0]

    # Nobody but an approver decides; the outsider is told privately.
    assert await slack.click("approve", a3, "olivia") == 200
    whisper = await eventually(lambda: slack_api.called("chat.postEphemeral"), "the whisper")
    assert whisper[0]["user"] == "olivia" and "@alice" in whisper[0]["text"]

    # A Slack outage while the decision is delivered loses nothing.
    slack_api.fail_next(500, 2)
    assert await slack.click("approve", a3, "alice") == 200
    assert await slack.click("approve", a3, "alice") == 200  # the double click
    await eventually(lambda: slack.updated("Approved by @alice"), "the approval update")
    await eventually(lambda: slack.posted("Done: send_winback"), "the win-back to run")
    assert slack_api.refused == 2
    assert len(slack.posted("Done: send_winback")) == 1

    a7 = await _discount_approval(slack, slack_api)
    assert await slack.click("reject", a7, "bob") == 200
    opened = await eventually(lambda: slack_api.called("views.open"), "the reject modal")
    view = opened[0]["view"]
    assert view["callback_id"] == "baton_reject_reason"
    submission = view_submission("V77", view["private_metadata"], REJECTION, user="bob")
    assert (await baton.post(*interaction_body(submission)))[0] == 200
    await eventually(lambda: slack.updated("Rejected by @bob"), "the rejection update")
    await eventually(lambda: slack.posted("Re-planned around @bob"), "the re-plan")
    assert len(slack_api.called("chat.postMessage")) == len(
        {c.answer["ts"] for c in slack_api.calls if c.method == "chat.postMessage"}
    )

    # Status by slash command comes back to the person only, from a worker, without a chart;
    # asked in the outcome's thread, it is said there, with its chart.
    assert await slack.command("status o1", "olivia") == 200
    await eventually(
        lambda: [t for t in slack_api.texts("chat.postEphemeral") if "Outcome o1 ·" in t],
        "the private status",
    )
    assert not slack_api.uploads
    assert await slack.mention("status o1", "olivia", thread, "EvStatus") == 200
    await eventually(lambda: slack_api.uploads, "the status chart")
    assert all(png.startswith(b"\x89PNG") for png in slack_api.uploads.values())
    assert slack.posted("Outcome o1")
    assert len(slack.posted("Statement of Benefit")) == 1

    await _live_until_achieved(slack, business)
    assert len(slack.posted("Outcome o1 achieved")) == 1
    assert not slack_api.buttons("approve"), "every approval was decided"


async def _live_until_achieved(slack: Slack, business: Business) -> None:
    """Day by day: approve what is pending, let the business live, ask Baton to check."""
    for _ in range(MAX_DAYS):
        for value, _, _ in slack.api.buttons("approve"):
            assert await slack.click("approve", value, "alice") == 200
            await eventually(partial(_decided, slack.api, value), "the decision")
        if slack.posted("Outcome o1 achieved"):
            return
        business.advance_day()
        await _check(slack)
    await eventually(lambda: slack.posted("Outcome o1 achieved"), "the achieved report")


async def _check(slack: Slack) -> None:
    """`/outcome check o1` until Baton says more than the acknowledgement: a check that
    arrives while the outcome's lease is held is skipped, as the loop intends."""
    for attempt in range(CHECK_ATTEMPTS):
        seen = len(slack.api.calls)
        slack.n += 1
        # Asked from another channel: Slack's per-channel pacing keeps the acknowledgement
        # from queueing ahead of the tick's own messages in the outcome's channel.
        check = command_body("check o1", user="olivia", trigger=f"t{slack.n}", channel="C2")
        assert (await slack.baton.post(*check))[0] == 200
        try:
            await eventually(partial(_said_in, slack.api, "C1", seen), "a tick", CHECK_WAIT_S)
            return
        except AssertionError:
            if attempt == CHECK_ATTEMPTS - 1:
                raise


def _said_in(api: SlackApiDouble, channel: str, seen: int) -> bool:
    return any(c.params.get("channel") == channel for c in api.calls[seen:])


def _decided(api: SlackApiDouble, value: str) -> bool:
    return not any(v == value for v, _, _ in api.buttons("approve"))


async def _discount_approval(slack: Slack, api: SlackApiDouble) -> str:
    """Ask for checks (each a tick) until the 20% discount is planned, then await its approval."""
    for _ in range(10):
        if slack.posted("Plan for o1: discount_20"):
            break
        seen = len(api.called("chat.postMessage"))
        assert await slack.command("check o1", "olivia") == 200
        await eventually(_more_posts(api, seen + 1), "a tick")
    pending = await eventually(
        lambda: [v for v, _, _ in api.buttons("approve") if _is_discount(api, v)],
        "the discount approval",
    )
    return pending[0]


def _more_posts(api: SlackApiDouble, seen: int) -> Callable[[], bool]:
    return lambda: len(api.called("chat.postMessage")) > seen


def _is_discount(api: SlackApiDouble, value: str) -> bool:
    return any(
        "percent=20" in p["text"] and value in json.dumps(p["blocks"])
        for p in api.called("chat.postMessage")
    )
