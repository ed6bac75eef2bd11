"""A reminder reaches each approver still awaited directly (conversations.open, then a post
in that direct message), as well as the outcome's channel, whatever the workspace file's
`notify` says; who decides for an approver away gets it instead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import CHANNEL, Harness, build_harness
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.delivery import wire

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


@pytest.fixture
async def harness(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business, slack_api: SlackApiDouble
) -> AsyncIterator[Harness]:
    policy = workspace.policy.model_copy(update={"remind_after_h": 4, "approval_timeout_h": 24})
    people = workspace.people.model_copy(
        update={"approvers": ("alice", "bob"), "notify": "channel", "deputies": {"bob": ("carol",)}}
    )
    built = build_harness(
        redis, keys, workspace.model_copy(update={"policy": policy, "people": people}), business
    )
    wire(built, slack_api)
    slack_api.answers["conversations.open"] = lambda p: {"channel": {"id": "D" + p["users"]}}
    await built.runtime.start()
    yield built
    await built.connectors.close()


def _posted_to(api: SlackApiDouble, channel: str, title: str) -> list[str]:
    return [
        str(p.get("text", ""))
        for p in api.called("chat.postMessage")
        if p["channel"] == channel and title in str(p.get("text", ""))
    ]


async def test_a_reminder_goes_to_each_awaited_approver_directly(
    harness: Harness, slack_api: SlackApiDouble
) -> None:
    await harness.say("olivia", STATEMENT)
    ((session, _, _),) = slack_api.buttons("confirm")
    await harness.click("olivia", "confirm", session)
    (approval,) = await harness.store.pending_approvals(CHANNEL.workspace)
    assert slack_api.called("conversations.open") == [], "notify: channel asks for no DM"
    await harness.say("bob", "away until 2099-01-10, delegate @carol")

    harness.clock.advance(timedelta(hours=4))
    await harness.runtime.drain()

    channel = CHANNEL.channel
    assert _posted_to(slack_api, channel, "Reminder: ")
    opened = sorted(p["users"] for p in slack_api.called("conversations.open"))
    assert opened == ["alice", "carol"], "bob is away: carol decides for him"
    assert _posted_to(slack_api, "Dalice", "Reminder: ") and _posted_to(
        slack_api, "Dcarol", "Reminder: "
    )
    assert approval.id in str(slack_api.called("chat.postMessage")[-1])
