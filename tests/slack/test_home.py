"""App Home: what waits for the viewer with its buttons, outcomes with status and progress,
and pending approvals, refreshed on change."""

from __future__ import annotations

import json
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.gateway import SlackGateway
from bot.slack.home import COALESCE_S, HomeTabs
from bot.slack.messages import SlackHome
from handlers.cards import Card
from orchestrator.models import ConversationRef
from tests.conftest import Harness
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import BOT_TOKEN

WHERE = ConversationRef(platform="slack", workspace="T1", channel="C1")


def home(harness: Harness, api: SlackApiDouble) -> tuple[HomeTabs, SlackGateway]:
    gateway = SlackGateway(AsyncWebClient(token=BOT_TOKEN, base_url=api.base_url))
    desk, ctx = harness.conversation.desk, harness.runtime.ctx
    tabs = HomeTabs(gateway, desk, store=ctx.store, queue=ctx.queue)
    gateway.changed = tabs.changed
    harness.runtime.register(SlackHome, tabs.refresh)
    return tabs, gateway


def shown(api: SlackApiDouble) -> list[tuple[str, str]]:
    return [(p["user_id"], json.dumps(p["view"])) for p in api.called("views.publish")]


async def test_home_lists_outcomes_and_pending_approvals(
    harness: Harness, slack_api: SlackApiDouble
) -> None:
    tabs, _ = home(harness, slack_api)
    await tabs.opened("T1", "alice")
    assert "No approvals waiting" in shown(slack_api)[0][1]
    outcome = await harness.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    approval = harness.gateway.buttons("approve")[-1]
    await tabs.opened("T1", "bob")
    user, view = shown(slack_api)[-1]
    assert user == "bob" and outcome in view
    assert "active" in view and "%" in view  # status and the progress bar
    assert f"{approval}: " in view and "@alice" in view
    # The outcome lives on another platform than Slack: nothing of it to decide from here
    # (tests/slack/test_home_approvals.py decides from Home through Slack itself).
    assert "baton_approve" not in view and "Waiting for your decision" not in view


async def test_changes_refresh_every_viewer_once_per_window(
    harness: Harness, slack_api: SlackApiDouble
) -> None:
    tabs, gateway = home(harness, slack_api)
    await tabs.opened("T1", "alice")
    await tabs.opened("T1", "bob")
    before = len(slack_api.called("views.publish"))
    for n in range(3):  # three posts in quick succession: one refresh
        await gateway.send(conversation=WHERE, card=Card(title=f"progress {n}"))
    await harness.runtime.drain()
    assert len(slack_api.called("views.publish")) == before  # not yet due
    harness.clock.advance(timedelta(seconds=COALESCE_S))
    await harness.runtime.drain()
    refreshed = shown(slack_api)[before:]
    assert sorted(user for user, _ in refreshed) == ["alice", "bob"]
    # The next change after a refresh schedules the next one.
    await gateway.send(conversation=WHERE, card=Card(title="again"))
    harness.clock.advance(timedelta(seconds=COALESCE_S))
    await harness.runtime.drain()
    assert len(slack_api.called("views.publish")) == before + 4
