"""The demo story through Teams: `baton web` and `baton run` as real processes sharing Redis,
Activities posted to /api/messages, Baton's answers recorded by the connector double."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.models import ApprovalStatus, OutcomeStatus
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.doubles.bot_connector import BotConnectorDouble, Recorded, texts_of
from tests.teams.activities import TENANT, execute, installation, message
from tests.teams.processes import environment, eventually, free_port, healthy, start, stop

STATEMENT = "Cut monthly churn by 2% by the end of Q1, with a budget of £500"
REJECTION = "Too generous: keep discounts at 10% or less"
MAX_DAYS = 60
CHECK_ATTEMPTS = 4
CHECK_WAIT_S = 5.0


@dataclass
class Teams:
    """Posts activities like Teams does and reads what the connector double recorded."""

    base_url: str
    http: aiohttp.ClientSession
    double: BotConnectorDouble
    store: RedisStore
    business: Business

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        async with self.http.post(self.base_url + "/api/messages", json=activity) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body

    async def say(self, user: str, text: str) -> None:
        status, _ = await self.post(message(user, text, self.double.service_url, mention=True))
        assert status in (200, 201)

    async def click(
        self, user: str, verb: str, value: str, reason: str | None = None
    ) -> dict[str, Any]:
        return await self.invoke(execute(user, verb, value, self.double.service_url, reason))

    async def invoke(self, activity: dict[str, Any]) -> dict[str, Any]:
        status, body = await self.post(activity)
        assert status == 200, body
        assert isinstance(body, dict)
        return body

    async def card_with(self, verb: str) -> tuple[Recorded, str]:
        """Wait for a posted card with a `verb` button; returns it and the button's value."""
        found: list[tuple[Recorded, str]] = []

        async def posted() -> bool:
            found[:] = [
                (r, a["data"]["value"])
                for r in self.double.of("send")
                for a in (r.card or {}).get("actions", [])
                if a["verb"] == verb
            ]
            return bool(found)

        await eventually(posted, f"a card with {verb}")
        return found[-1]

    async def titled(self, text: str) -> None:
        async def seen() -> bool:
            return any(text in t for t in self.double.titles())

        await eventually(seen, repr(text))


def card_of(body: dict[str, Any]) -> str:
    assert body["type"] == "application/vnd.microsoft.card.adaptive", body
    return str(body["value"])


@pytest.fixture
async def teams(
    redis: Redis, redis_url: str, keys: Keys, business: Business, tmp_path: Path
) -> AsyncIterator[Teams]:
    double = BotConnectorDouble()
    await double.start()
    web_port = free_port()
    common = {
        "REDIS_URL": redis_url,
        "BATON_KEY_PREFIX": keys.prefix,
        "BATON_STATE_DIR": str(tmp_path / "state"),
        "BATON_ENV": "development",
        "BATON_DEMO_DB": str(business.path),
        "BATON_LOG_LEVEL": "WARNING",
    }
    web = start("web", environment(**common, PORT=str(web_port)), tmp_path / "web.log")
    run = start("run", environment(**common, PORT=str(free_port())), tmp_path / "run.log")
    processes: list[subprocess.Popen[bytes]] = [web, run]
    try:
        base_url = f"http://127.0.0.1:{web_port}"
        await healthy(base_url, web, tmp_path / "web.log")
        async with aiohttp.ClientSession() as http:
            yield Teams(base_url, http, double, RedisStore(redis, keys), business)
    finally:
        for process in processes:
            stop(process)
        await double.stop()


async def confirm_outcome(teams: Teams) -> str:
    status, _ = await teams.post(installation("olivia", teams.double.service_url))
    assert status in (200, 201)
    await teams.titled("State an outcome")
    await teams.say("olivia", STATEMENT)
    await teams.titled("relative")
    await teams.say("olivia", "points")
    _, session = await teams.card_with("confirm")
    confirmed = await teams.click("olivia", "confirm", session)
    assert "Confirmed: outcome" in card_of(confirmed)
    return "o" + session[1:]


async def decide(teams: Teams, approval_id: str) -> None:
    approval = await teams.store.approval(approval_id)
    step = await teams.store.step(approval.step_id)
    if step.params.get("percent") == 20:
        body = await teams.click("bob", "reject", approval_id, REJECTION)
        assert "Rejected by @bob" in card_of(body) and REJECTION in card_of(body)
    else:
        assert "Approved by @alice" in card_of(await teams.click("alice", "approve", approval_id))


async def next_day(teams: Teams, outcome_id: str) -> None:
    """The business lives a day; `check` makes Baton measure now instead of tomorrow."""
    before = len(await teams.store.measurements(outcome_id))
    teams.business.advance_day()

    async def measured() -> bool:
        return len(await teams.store.measurements(outcome_id)) > before

    # A check that arrives while the outcome's lease is held (an execution or an earlier
    # tick still running) is skipped, as the loop intends; the owner simply asks again.
    for _ in range(CHECK_ATTEMPTS - 1):
        await teams.say("olivia", f"check {outcome_id}")
        try:
            await eventually(measured, "a measurement", within_s=CHECK_WAIT_S)
            return
        except AssertionError:
            continue
    await teams.say("olivia", f"check {outcome_id}")
    await eventually(measured, f"a measurement of {outcome_id}")


async def test_the_demo_story_through_teams(teams: Teams) -> None:
    outcome_id = await confirm_outcome(teams)
    approval_card, approval_id = await teams.card_with("approve")
    assert approval_card.card is not None and approval_card.card["refresh"]
    outsider = await teams.click("mallory", "approve", approval_id)
    assert outsider["type"] == "application/vnd.microsoft.activity.message"
    assert "Only the approvers" in outsider["value"]
    rejected: set[str] = set()
    for _ in range(MAX_DAYS):
        for approval in await teams.store.pending_approvals(TENANT):
            step = await teams.store.step(approval.step_id)
            rejected |= {approval.id} if step.params.get("percent") == 20 else set()
            await decide(teams, approval.id)
        if (await teams.store.outcome(outcome_id)).status is not OutcomeStatus.ACTIVE:
            break
        await next_day(teams, outcome_id)
    assert (await teams.store.outcome(outcome_id)).status is OutcomeStatus.ACHIEVED
    await teams.titled(f"Outcome {outcome_id} achieved")
    first = await teams.store.approval(approval_id)
    assert first.status is ApprovalStatus.APPROVED and first.decided_by == "alice"
    decided_in_place = [
        u for u in teams.double.of("update") if u.activity_id == approval_card.activity_id
    ]
    assert decided_in_place and "Approved by @alice" in str(decided_in_place[-1].card)
    assert rejected, "the story rejects the 20% discount with a reason"


async def test_a_redelivered_invoke_decides_once(teams: Teams) -> None:
    await confirm_outcome(teams)
    _, approval_id = await teams.card_with("approve")
    click = execute("alice", "approve", approval_id, teams.double.service_url)
    first, again = await teams.invoke(click), await teams.invoke(click)
    assert "Approved by @alice" in card_of(first) and "Approved by @alice" in card_of(again)
    approval = await teams.store.approval(approval_id)
    trail = await teams.store.audit_trail(await teams.store.outcome(approval.outcome_id))
    decisions = [e for e in trail if e.subject.endswith(approval_id) and e.after == "approved"]
    assert len(decisions) == 1 and decisions[0].actor == "alice"


async def test_production_without_credentials_refuses_teams(
    redis_url: str, keys: Keys, tmp_path: Path
) -> None:
    port = free_port()
    env = environment(
        REDIS_URL=redis_url,
        BATON_KEY_PREFIX=keys.prefix,
        BATON_STATE_DIR=str(tmp_path / "state"),
        BATON_ENV="production",
        PORT=str(port),
    )
    web = start("web", env, tmp_path / "web.log")
    try:
        base_url = f"http://127.0.0.1:{port}"
        await healthy(base_url, web, tmp_path / "web.log")
        async with aiohttp.ClientSession() as http:
            activity = message("olivia", "help", "http://127.0.0.1:9/")
            async with http.post(base_url + "/api/messages", json=activity) as response:
                assert response.status == 503
                error = (await response.json())["error"]
        assert "MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD" in error
    finally:
        stop(web)
    assert "MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD" in (tmp_path / "web.log").read_text()


HOSTILE = "[Verify account](https://evil.example)"


def parsed_texts(element: Any) -> list[str]:
    """The texts of a card that Teams reads as Markdown: TextBlocks and Facts."""
    if isinstance(element, list):
        return [text for item in element for text in parsed_texts(item)]
    if not isinstance(element, dict):
        return []
    if element.get("type") == "TextBlock":
        return [str(element.get("text", ""))]
    if element.get("type") == "FactSet":
        return [f"{f.get('title')} {f.get('value')}" for f in element.get("facts", [])]
    return [text for value in element.values() for text in parsed_texts(value)]


def hostile(activity: dict[str, Any]) -> dict[str, Any]:
    activity["from"]["name"] = HOSTILE
    return activity


async def test_data_and_drafted_text_never_become_markdown_in_teams(teams: Teams) -> None:
    """A link in the statement, a person's name and a rejection reason is shown as the
    characters it is: only ever in TextRuns (never parsed), or in a plain-text message."""
    url = teams.double.service_url
    await teams.post(hostile(installation("olivia", url)))
    await teams.titled("State an outcome")
    await teams.post(hostile(message("olivia", f"{STATEMENT}. See {HOSTILE}", url, mention=True)))
    await teams.titled("relative")
    await teams.post(hostile(message("olivia", "points", url, mention=True)))
    _, session = await teams.card_with("confirm")
    confirmed = await teams.invoke(hostile(execute("olivia", "confirm", session, url)))
    approval, approval_id = await teams.card_with("approve")
    assert approval.card is not None  # the owner wrote to Baton: the card refreshes for her
    assert approval.card["refresh"]["userIds"] == ["29:olivia"]
    rejected = await teams.invoke(execute("bob", "reject", approval_id, url, HOSTILE))
    answers = [confirmed["value"], rejected["value"]]  # cards answering the clicks
    await eventually(lambda: _has_update(teams.double), "the rejected card updated in place")
    shown = [r.card for r in teams.double.recorded if r.card is not None] + answers
    seen = [t for card in shown for t in texts_of(card["body"]) if HOSTILE in t]
    assert len(seen) >= 3  # the statement in several cards, and the reason, are all shown
    assert any(HOSTILE in t for t in texts_of(rejected["value"]["body"]))
    for card in shown:
        assert not [t for t in parsed_texts(card) if "evil.example" in t]
    for plain in (r.body for r in teams.double.recorded if r.card is None):
        assert "evil.example" not in str(plain.get("text", "")) or plain["textFormat"] == "plain"


async def _has_update(double: BotConnectorDouble) -> bool:
    return bool(double.of("update"))
