"""Per-person rate limits on messages; clicks on decisions are never limited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from config.workspace import validate_workspace
from handlers import texts
from handlers.cards import Reply
from orchestrator.errors import ConfigError
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import RateLimit, Workspace
from tests.conftest import Harness, build_harness

LIMIT = RateLimit(messages=3, window_s=60)


@pytest.fixture
async def limited(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    changed = workspace.model_copy(update={"rate_limit": LIMIT})
    built = build_harness(redis, keys, changed, business)
    await built.runtime.start()
    yield built
    await built.connectors.close()


def said(replies: list[Reply]) -> str:
    return " ".join(r.card.text() for r in replies)


async def test_one_member_is_told_once_then_dropped_and_others_go_on(limited: Harness) -> None:
    for _ in range(LIMIT.messages):
        assert texts.RATE_LIMITED[:20] not in said(await limited.say("mallory", "list"))
    told = await limited.say("mallory", "list")
    assert len(told) == 1 and told[0].private and "3 per 60 s" in said(told)
    assert await limited.say("mallory", "list") == []
    # Another member of the same workspace is not held up by mallory.
    assert texts.HELP[:20] in said(await limited.say("olivia", "help"))


async def test_statements_count_and_start_nothing_once_limited(limited: Harness) -> None:
    for _ in range(LIMIT.messages):
        await limited.say("mallory", "help")
    sent = len(limited.gateway.sent)
    await limited.say("mallory", "Reduce monthly churn from 8% to 6% by 31 March")
    await limited.say("mallory", "Reduce monthly churn from 8% to 5% by 31 March")
    assert len(limited.gateway.sent) == sent and limited.gateway.buttons("confirm") == []


async def test_the_next_window_lets_the_member_speak_again(limited: Harness) -> None:
    for _ in range(LIMIT.messages + 2):
        await limited.say("mallory", "help")
    limited.clock.advance(timedelta(seconds=LIMIT.window_s))
    assert texts.HELP[:20] in said(await limited.say("mallory", "help"))


async def test_a_decision_is_never_rate_limited(limited: Harness) -> None:
    outcome = await limited.state("olivia", "Reduce monthly churn from 8% to 6% by 31 March")
    approval = limited.gateway.buttons("approve")
    assert approval, "the demo's first plan asks for an approval"
    approver = (await limited.store.approval(approval[-1])).approvers[0]
    for _ in range(LIMIT.messages + 1):
        await limited.say(approver, "status " + outcome)
    await limited.click(approver, "approve", approval[-1])
    assert (await limited.store.approval(approval[-1])).status.value == "approved"


def test_the_workspace_file_sets_the_limit_and_refuses_nonsense(workspace: Workspace) -> None:
    raw = workspace.model_dump(mode="json")
    loaded = validate_workspace({**raw, "rate_limit": {"messages": 5}}, source="w.yaml")
    assert loaded.rate_limit == RateLimit(messages=5, window_s=60)
    assert workspace.rate_limit == RateLimit()
    with pytest.raises(ConfigError, match=r"rate_limit\.messages"):
        validate_workspace({**raw, "rate_limit": {"messages": 0}}, source="w.yaml")
