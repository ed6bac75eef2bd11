"""Slack's assistant container, through signed events to `baton web` + `baton run`: the
suggested prompts, a statement in the thread (its title, the status while Baton measures),
an answer, a Confirm (the status while Baton plans), and channels working as before."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.simulation import Business
from handlers import texts
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import block_action, command_body, event_body, interaction_body
from tests.slack.processes import Baton, baton_env, eventually, serving

STATEMENT = "Cut monthly churn by 2% by the end of Q1, with a budget of £500"
DM = "D1"
THREAD = "1729999327.187299"


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    env = baton_env(
        slack_api.base_url, tmp_path / "state", business.path, BATON_SLACK_ASSISTANT="true"
    )
    async with serving(env, tmp_path) as running:
        yield running


def thread_started(user: str) -> dict[str, Any]:
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {"channel_id": "C1", "team_id": "T1", "enterprise_id": None},
            "channel_id": DM,
            "thread_ts": THREAD,
        },
        "event_ts": "1729999327.187300",
    }


def said(text: str, user: str, n: int) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": DM,
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": f"1729999400.{n:06d}",
        "thread_ts": THREAD,
    }


def _methods(api: SlackApiDouble) -> list[str]:
    return [c.method for c in api.calls]


async def test_the_assistant_thread_from_prompts_to_planning(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    assert (await baton.post(*event_body(thread_started("olivia"), "Ev1")))[0] == 200
    prompts = slack_api.called("assistant.threads.setSuggestedPrompts")
    assert len(prompts) == 1 and prompts[0]["channel_id"] == DM
    assert prompts[0]["thread_ts"] == THREAD
    titles = [p["title"] for p in prompts[0]["prompts"]]
    assert titles == ["State an outcome", "What waits for me?", "How are my outcomes?"]

    # A statement: the thread is named after it and shows that Baton measures, then the
    # question comes in the same thread, from a worker.
    assert (await baton.post(*event_body(said(STATEMENT, "olivia", 1), "Ev2")))[0] == 200
    await eventually(lambda: slack_api.called("assistant.threads.setTitle"), "the title")
    assert slack_api.called("assistant.threads.setTitle")[0]["title"] == STATEMENT
    status = slack_api.called("assistant.threads.setStatus")
    assert status[0]["status"] == texts.SLACK_ASSISTANT_MEASURING
    assert (status[0]["channel_id"], status[0]["thread_ts"]) == (DM, THREAD)

    def question() -> list[dict[str, Any]]:
        return [p for p in slack_api.called("chat.postMessage") if "percentage points" in p["text"]]

    asked = (await eventually(question, "the clarifying question"))[0]
    assert (asked["channel"], asked["thread_ts"]) == (DM, THREAD)
    methods = _methods(slack_api)
    assert methods.index("assistant.threads.setStatus") < methods.index("chat.postMessage")

    # The answer: Baton shows it works on it, then offers Confirm in the thread.
    assert (await baton.post(*event_body(said("points", "olivia", 2), "Ev3")))[0] == 200
    working = slack_api.called("assistant.threads.setStatus")[-1]
    assert working["status"] == texts.SLACK_ASSISTANT_WORKING
    session, ts, thread = (await eventually(lambda: slack_api.buttons("confirm"), "Confirm"))[0]
    assert thread == THREAD

    # Confirm: while a worker plans, the thread says so.
    click = block_action("confirm", session, user="olivia", channel=DM, ts=ts, thread=thread, n=1)
    assert (await baton.post(*interaction_body(click)))[0] == 200
    await eventually(
        lambda: any(
            p["status"] == texts.SLACK_ASSISTANT_PLANNING
            for p in slack_api.called("assistant.threads.setStatus")
        ),
        "the planning status",
    )


async def test_commands_in_the_thread_and_channels_work_as_before(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    # A command in the thread is answered there, with no status or title.
    assert (await baton.post(*event_body(said("help", "olivia", 3), "Ev4")))[0] == 200

    def in_thread() -> list[dict[str, Any]]:
        sent = [c.params for c in slack_api.calls if c.method.startswith("chat.post")]
        return [p for p in sent if p.get("thread_ts") == THREAD]

    helped = await eventually(in_thread, "the help in the thread")
    assert "pause" in json.dumps(helped[0])  # the command list
    assert slack_api.called("assistant.threads.setStatus") == []
    assert slack_api.called("assistant.threads.setTitle") == []

    # The slash command in a channel still anchors a thread there.
    assert (await baton.post(*command_body(STATEMENT, user="olivia", trigger="t1")))[0] == 200
    anchor = await eventually(
        lambda: [p for p in slack_api.called("chat.postMessage") if p["channel"] == "C1"],
        "the channel's thread anchor",
    )
    assert "stated an outcome" in anchor[0]["text"]


async def test_malformed_assistant_events_are_refused_not_failed(
    baton: Baton, slack_api: SlackApiDouble
) -> None:
    broken: list[dict[str, Any]] = [
        {"type": "assistant_thread_started"},
        {"type": "assistant_thread_started", "assistant_thread": "D1"},
        {"type": "assistant_thread_started", "assistant_thread": {"channel_id": DM}},
        {**said(STATEMENT, "olivia", 9), "thread_ts": 12},
        {**said(STATEMENT, "olivia", 9), "text": None},
    ]
    for n, event in enumerate(broken):
        status, _ = await baton.post(*event_body(event, f"EvBad{n}"))
        assert status == 400, (event, status)
    assert slack_api.called("assistant.threads.setTitle") == []
