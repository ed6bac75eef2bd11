"""A team in one Slack channel: signed requests to `baton web` + `baton run` (processes),
the Web API double for what Slack is asked. Several people in each story."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import block_action, command_body, event_body, interaction_body
from tests.slack.processes import Baton, baton_env, eventually, serving

OLIVIA, ALICE, BOB, CAROL = "U0OLIVIA", "U0ALICE", "U0BOB", "U0CAROL"
NAMES = {OLIVIA: "Olivia Olsen", ALICE: "Alice Ng", BOB: "Bob Berg", CAROL: "Carol Chen"}
STATEMENT = "Cut monthly churn by 2% by the end of Q1"


def _users_info(params: dict[str, Any]) -> dict[str, Any]:
    user = str(params.get("user"))
    return {"user": {"id": user, "name": user.lower(), "profile": {"real_name": NAMES[user]}}}


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    """The example workspace, its people named by Slack ids only (as a real file names
    them), approvers told by direct message as well."""
    raw = yaml.safe_load(DEMO_WORKSPACE.read_text())
    raw["people"] = {
        "owner": OLIVIA,
        "approvers": [ALICE, BOB],
        "on_call": [BOB],
        "notify": "dm",
    }
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(yaml.safe_dump(raw))
    slack_api.answers["users.info"] = _users_info
    slack_api.answers["conversations.open"] = lambda p: {"channel": {"id": "D" + p["users"]}}
    env = baton_env(
        slack_api.base_url, tmp_path / "state", business.path, BATON_WORKSPACE=str(workspace)
    )
    async with serving(env, tmp_path) as running:
        yield running


class Channel:
    """People in channel C1: slash commands, thread replies, clicks."""

    def __init__(self, baton: Baton, api: SlackApiDouble) -> None:
        self.baton = baton
        self.api = api
        self.n = 0

    async def command(self, text: str, user: str) -> str:
        """The acknowledgement's body (a private answer comes back in it)."""
        self.n += 1
        status, body = await self.baton.post(*command_body(text, user=user, trigger=f"t{self.n}"))
        assert status == 200
        return body

    async def reply(self, text: str, user: str, thread: str) -> None:
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
        assert (await self.baton.post(*event_body(event, f"Ev{self.n}")))[0] == 200

    async def click(self, action: str, value: str, user: str, ts: str, thread: str) -> None:
        self.n += 1
        payload = block_action(
            action, value, user=user, channel="C1", ts=ts, thread=thread, n=self.n
        )
        assert (await self.baton.post(*interaction_body(payload)))[0] == 200

    def asking(self, thread: str) -> bool:
        """Whether a question (it has a Cancel button) waits in `thread`."""
        return any(b[2] == thread for b in self.api.buttons("cancel"))

    def posts(self, needle: str, method: str = "chat.postMessage") -> list[dict[str, Any]]:
        return [p for p in self.api.called(method) if needle in str(p.get("text", ""))]

    async def statement(self, text: str, user: str) -> str:
        """State an outcome; the thread its anchor opens."""
        before = len(self.posts("stated an outcome"))
        await self.command(text, user)
        await eventually(lambda: len(self.posts("stated an outcome")) > before, "the anchor")
        anchor = self.posts("stated an outcome")[-1]
        return next(
            str(c.answer["ts"])
            for c in self.api.calls
            if c.method == "chat.postMessage" and c.params is anchor
        )


def _blocks(params: dict[str, Any]) -> str:
    blocks = params.get("blocks", [])
    return json.dumps(json.loads(blocks) if isinstance(blocks, str) else blocks)


async def test_a_thread_belongs_to_its_owner_and_a_question_can_be_left(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    channel = Channel(baton, slack_api)
    thread = await channel.statement(STATEMENT, OLIVIA)
    assert channel.posts("@Olivia Olsen stated an outcome"), [
        (c.method, c.params.get("text")) for c in slack_api.calls
    ]
    await eventually(lambda: channel.posts("percentage points"), "the question")
    assert any(b[2] == thread for b in slack_api.buttons("cancel")), "the question can be left"

    # A colleague's words in the owner's thread: a private hint, nothing changes.
    await channel.reply("I think they mean points", CAROL, thread)
    hint = await eventually(
        lambda: channel.posts("is for @Olivia Olsen", "chat.postEphemeral"), "the hint"
    )
    assert hint[0]["user"] == CAROL
    # The owner's own answer is still the answer.
    await channel.reply("points", OLIVIA, thread)
    await eventually(lambda: slack_api.buttons("confirm"), "the Statement")
    assert not channel.posts("could not find an outcome")

    # A second statement: its question may be left with words.
    second = await channel.statement(STATEMENT, OLIVIA)
    await eventually(lambda: channel.asking(second), "the second question")
    await channel.reply("never mind", OLIVIA, second)
    await eventually(lambda: channel.posts("Cancelled. Nothing was started."), "the cancellation")

    # A third: a new statement said while its question waits starts anew.
    third = await channel.statement(STATEMENT, OLIVIA)
    await eventually(lambda: channel.asking(third), "the third question")
    await channel.reply("Reduce open tickets to 3 by 31 March", OLIVIA, third)
    statements = await eventually(
        lambda: [p for p in channel.posts("Statement of Benefit") if "open_tickets" in _blocks(p)],
        "the tickets Statement",
    )
    assert statements[0]["thread_ts"] == third

    # A fourth: its question card's Cancel button leaves it.
    fourth = await channel.statement(STATEMENT, OLIVIA)
    await eventually(lambda: channel.asking(fourth), "the fourth question")
    session, ts, _ = next(b for b in slack_api.buttons("cancel") if b[2] == fourth)
    await channel.click("cancel", session, OLIVIA, ts, fourth)
    await eventually(
        lambda: channel.posts("Cancelled. Nothing was started.", "chat.update"), "Cancel"
    )
    assert not channel.asking(fourth)
    assert not [p for p in channel.posts("Statement of Benefit") if "3.0%" in _blocks(p)]


async def test_approvers_are_told_and_answers_match_the_state(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    channel = Channel(baton, slack_api)
    thread = await channel.statement(STATEMENT, OLIVIA)
    await eventually(lambda: channel.posts("percentage points"), "the question")
    await channel.reply("points", OLIVIA, thread)
    session, ts, _ = (await eventually(lambda: slack_api.buttons("confirm"), "Confirm"))[0]
    statement = next(p for p in channel.posts("Statement of Benefit"))
    assert "Alice Ng" in _blocks(statement) and "U0ALICE" not in _blocks(statement)
    await channel.click("confirm", session, OLIVIA, ts, thread)
    approval, card_ts, _ = (await eventually(lambda: slack_api.buttons("approve"), "an approval"))[
        0
    ]

    # The approvers are mentioned for real, in the text and in the message, and each gets
    # a direct message (the workspace file asks for it); they read names, not ids.
    card = next(p for p in channel.posts("Approval needed") if p["channel"] == "C1")
    for user in (ALICE, BOB):
        assert f"<@{user}>" in card["text"] and f"<@{user}>" in _blocks(card)
    assert "@Alice Ng, @Bob Berg" in _blocks(card)

    def directs() -> set[str]:
        return {p["channel"] for p in channel.posts("Approval needed") if p["channel"] != "C1"}

    # Both: the two direct messages go out one after the other.
    await eventually(lambda: len(directs()) >= 2, "the direct messages")
    assert directs() == {"D" + ALICE, "D" + BOB}

    # Read-only answers come back to the person only.
    public = len(slack_api.called("chat.postMessage"))
    listing = await channel.command("list", CAROL)
    assert "Outcomes (1)" in listing
    await channel.command("status o1", CAROL)
    said = await eventually(
        lambda: channel.posts("Outcome o1 ·", "chat.postEphemeral"), "the private status"
    )
    assert said[0]["user"] == CAROL
    assert len(slack_api.called("chat.postMessage")) == public and not slack_api.uploads

    # Stopping the outcome withdraws its approval: the card says so and loses its buttons,
    # and a later click is told the truth.
    await channel.command("stop o1", OLIVIA)
    withdrawn = "Withdrawn: the outcome was stopped by @Olivia Olsen"
    await eventually(
        lambda: len(channel.posts(withdrawn, "chat.update")) == 3, "the card and its copies"
    )
    assert not slack_api.buttons("approve")
    await channel.click("approve", approval, ALICE, card_ts, thread)
    told = await eventually(
        lambda: channel.posts("This approval was withdrawn", "chat.postEphemeral"), "the answer"
    )
    assert told[0]["user"] == ALICE and "Olivia Olsen" in told[0]["text"]

    # Confirm again on the confirmed statement says what is true.
    await channel.click("confirm", session, OLIVIA, ts, thread)
    await eventually(
        lambda: channel.posts(
            "Outcome o1 was already confirmed by @Olivia Olsen", "chat.postEphemeral"
        ),
        "the answer to a second Confirm",
    )
