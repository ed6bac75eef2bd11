"""A click reaching the only worker while it runs a slow connector call there.

`baton web` and one worker (`baton run`) as processes; the CRM is held locked, so the first
approved step's connector call waits. A second approval clicked meanwhile is read and its
card updated while that call still waits: the worker keeps reading new jobs while the jobs
in hand run, and the notice is in a lane of its own.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from bot.demo.simulation import Business
from handlers.cards import Click, Inbound
from orchestrator.models import ConversationRef, StepStatus
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import clean, reachable_redis, unique_prefix, until
from tests.slack.conftest import block_action, interaction_body
from tests.slack.processes import Baton, baton_env, seeding_app

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
GUARD_S = 6.0
"""The CRM is let go after this at the latest (under the connector's 10 s timeout), so a
worker that never reads the click meanwhile fails the test instead of hanging it."""


async def _seed(env: dict[str, str], slack_api: SlackApiDouble, count: int) -> None:
    """`count` outcomes stated and confirmed in channels C0.., each approval card posted."""
    app = await seeding_app(env)

    def posted(button: str, more_than: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            await app.runtime.drain()
            return len(slack_api.buttons(button)) > more_than

        return check

    try:
        await app.runtime.start()
        for n in range(count):
            where = ConversationRef(platform="slack", workspace="T1", channel=f"C{n}")
            await app.conversation.on_message(Inbound(where, "olivia", STATEMENT, f"s{n}"))
            assert await until(posted("confirm", n))
            session = slack_api.buttons("confirm")[-1][0]
            await app.conversation.on_click(
                Click(where, "olivia", "confirm", session, delivery_id=f"c{n}")
            )
            assert await until(posted("approve", n))
    finally:
        await app.close()


class HeldCrm:
    """The CRM under an exclusive lock until `release` (or `GUARD_S`); says when let go."""

    def __init__(self, path: Path, events: list[str]) -> None:
        self.path = path
        self.events = events
        self.released = threading.Event()
        self.taken = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def __enter__(self) -> HeldCrm:
        self.thread.start()
        assert self.taken.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self.released.set()
        self.thread.join()

    def _hold(self) -> None:
        with sqlite3.connect(self.path, isolation_level=None) as db:
            db.execute("BEGIN EXCLUSIVE")
            self.taken.set()
            self.released.wait(GUARD_S)
            db.execute("COMMIT")
            self.events.append("crm let go")


async def test_a_click_is_shown_while_the_only_worker_waits_on_a_slow_connector_call(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> None:
    url = await reachable_redis()
    redis = Redis.from_url(url)
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        REDIS_URL=url,
        BATON_KEY_PREFIX=unique_prefix(),
    )
    store = RedisStore(redis, Keys(env["BATON_KEY_PREFIX"]))
    baton = Baton(env, tmp_path)
    events: list[str] = []
    try:
        await _seed(env, slack_api, 2)
        first, second = slack_api.buttons("approve")  # in C0, then C1
        await baton.start()
        with HeldCrm(business.path, events) as crm:
            await _approve(baton, 1, first)
            slow = (await store.approval(first[0])).step_id

            async def waits_on_the_crm() -> bool:
                return (await store.step(slow)).status is StepStatus.RUNNING

            assert await until(waits_on_the_crm, rounds=600)
            updates = len(slack_api.called("chat.update"))
            await _approve(baton, 2, second)

            async def second_card_updated() -> bool:
                if crm.released.is_set():
                    return True  # let go by the guard: the card was not updated in time
                return any(
                    call.get("ts") == second[1] and "Approved by" in str(call)
                    for call in slack_api.called("chat.update")[updates:]
                )

            assert await until(second_card_updated, rounds=2000)
            if not crm.released.is_set():
                events.append("second card updated")
                step = await store.step(slow)
                events.append(f"slow step {step.status.value}")

        async def done() -> bool:
            return (await store.step(slow)).status is StepStatus.SUCCEEDED

        assert await until(done, rounds=600), (tmp_path / "run.log").read_text()[-3000:]
        assert events == ["second card updated", "slow step running", "crm let go"]
    finally:
        await baton.stop()
        await clean(redis, env["BATON_KEY_PREFIX"])
        await redis.aclose()


async def _approve(baton: Baton, n: int, card: tuple[str, str, str | None]) -> None:
    """Click Approve on the card in channel C<n-1> as an approver (a signed Slack request)."""
    approval_id, ts, _ = card
    payload = block_action(
        "approve", approval_id, user="alice", channel=f"C{n - 1}", ts=ts, thread=None, n=n
    )
    body, kind = interaction_body(payload)
    status, _ = await baton.post(body, kind)
    assert status == 200
