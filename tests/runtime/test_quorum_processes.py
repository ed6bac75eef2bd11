"""A quorum decided by signed Slack clicks that several worker processes take at once.

Twelve approvers of an `approvals: all` rule click Approve at the same moment, each twice
(two deliveries), and Slack delivers every click twice. A running `baton web` takes the
signed requests; three `baton worker` processes decide them concurrently. Every person is
counted once, the approval is decided once, and its step starts once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import aiohttp
import yaml
from redis.asyncio import Redis

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from handlers.cards import Click, Inbound
from orchestrator.models import ApprovalStatus, ConversationRef, StepStatus
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from tests.approvals.test_quorum import with_quorum
from tests.doubles.slack_api import SlackApiDouble
from tests.runtime.processes import clean, reachable_redis, unique_prefix, until
from tests.slack.conftest import block_action, interaction_body, sign
from tests.slack.processes import baton_env, seeding_app, spawn

PEOPLE = tuple(f"U{i:02d}" for i in range(12))
SLACK = ConversationRef(platform="slack", workspace="T1", channel="C1")
STATEMENT = "Cut monthly churn by 2 points by end of Q1"


async def _seed(env: dict[str, str], slack_api: SlackApiDouble, workspace_file: Path) -> None:
    """One outcome stated and confirmed in Slack, its approval card posted."""
    app = await seeding_app(env, workspace_file)

    async def posted(action: str) -> bool:
        await app.runtime.drain()
        return bool(slack_api.buttons(action))

    try:
        await app.runtime.start()
        said = Inbound(SLACK, "olivia", STATEMENT, delivery_id="seed-statement")
        await app.conversation.on_message(said)
        assert await until(lambda: posted("confirm"))
        session = slack_api.buttons("confirm")[-1][0]
        await app.conversation.on_click(Click(SLACK, "olivia", "confirm", session, delivery_id="s"))
        assert await until(lambda: posted("approve"))
    finally:
        await app.close()


async def test_a_quorum_clicked_at_once_through_several_workers_decides_once(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> None:
    workspace_file = tmp_path / "workspace.yaml"
    quorum = with_quorum(load_workspace(DEMO_WORKSPACE), PEOPLE, approvals="all")
    workspace_file.write_text(yaml.safe_dump(quorum.model_dump(mode="json", exclude_none=True)))
    url = await reachable_redis()
    redis = Redis.from_url(url)
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        REDIS_URL=url,
        BATON_KEY_PREFIX=unique_prefix(),
        BATON_WORKSPACE=str(workspace_file),
    )
    store = RedisStore(redis, Keys(env["BATON_KEY_PREFIX"]))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await _seed(env, slack_api, workspace_file)
        ((approval_id, ts, _),) = slack_api.buttons("approve")
        processes.append(spawn("web", env, tmp_path / "web.log"))
        processes += [spawn("worker", env, tmp_path / f"w{n}.log") for n in range(3)]
        base = f"http://127.0.0.1:{env['PORT']}"
        async with aiohttp.ClientSession() as http:
            assert await until(lambda: _healthy(http, base), rounds=300)
            clicks = [
                _click(http, base, approval_id, ts, person, n=10 * i + twice)
                for i, person in enumerate(PEOPLE)
                for twice in (1, 2)  # a double click
                for _ in (1, 2)  # each delivered twice
            ]
            assert set(await asyncio.gather(*clicks)) == {200}
            approval = await store.approval(approval_id)

            async def ran() -> bool:
                step = await store.step(approval.step_id)
                return step.status in (StepStatus.SUCCEEDED, StepStatus.FAILED)

            assert await until(ran, rounds=900), (tmp_path / "w0.log").read_text()[-3000:]
        approval = await store.approval(approval_id)
        assert approval.status is ApprovalStatus.APPROVED
        assert sorted(v.counts_for for v in approval.votes) == sorted(PEOPLE)
        trail = await store.audit_trail(await store.outcome(approval.outcome_id))
        about = [
            e.action
            for e in trail
            if e.subject in (f"approval:{approval_id}", f"step:{approval.step_id}")
        ]
        assert about.count("approval.voted") == len(PEOPLE) - 1
        assert about.count("approval.approved") == 1
        assert about.count("step.running") == 1
    finally:
        for process in processes:
            _stop(process)
        await clean(redis, env["BATON_KEY_PREFIX"])
        await redis.aclose()


async def _click(
    http: aiohttp.ClientSession, base: str, approval_id: str, ts: str, user: str, n: int
) -> int:
    payload = block_action("approve", approval_id, user=user, channel="C1", ts=ts, thread=None, n=n)
    body, kind = interaction_body(payload)
    headers = {"Content-Type": kind, **sign(body)}
    async with http.post(base + "/slack/events", data=body, headers=headers) as response:
        return response.status


async def _healthy(http: aiohttp.ClientSession, base: str) -> bool:
    try:
        async with http.get(base + "/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
