"""Earned autonomy through Slack, as people use it: signed slash commands and button
clicks to a running `baton web` and worker, the Slack API a local double. Two approved
win-back sends are measured, the third approval brings the offer, a non-approver's click
is refused privately, an approver's click adds the rule, `/outcome policies` lists it,
the next send runs unasked, and Revoke ends it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from tests.doubles.slack_api import SlackApiDouble
from tests.learning.test_autonomy import STATEMENTS, earning
from tests.runtime.processes import reachable_redis
from tests.slack.conftest import block_action, command_body, interaction_body
from tests.slack.processes import Baton, baton_env, eventually


@pytest.fixture
async def baton(
    slack_api: SlackApiDouble, business: Business, tmp_path: Path
) -> AsyncIterator[Baton]:
    workspace_file = tmp_path / "workspace.yaml"
    earned = earning(load_workspace(DEMO_WORKSPACE))
    halved = earned.policy.model_copy(update={"holdout": 0.5})  # a clear effect from two runs
    earned = earned.model_copy(update={"policy": halved})
    workspace_file.write_text(yaml.safe_dump(earned.model_dump(mode="json", exclude_none=True)))
    env = baton_env(
        slack_api.base_url,
        tmp_path / "state",
        business.path,
        REDIS_URL=await reachable_redis(),
        BATON_WORKSPACE=str(workspace_file),
    )
    running = Baton(env, tmp_path)
    await running.start()
    yield running
    await running.stop()


class Slack:
    def __init__(self, baton: Baton, api: SlackApiDouble) -> None:
        self.baton, self.api, self.n = baton, api, 0

    async def command(self, text: str, user: str = "olivia") -> str:
        self.n += 1
        status, answer = await self.baton.post(*command_body(text, user=user, trigger=f"t{self.n}"))
        assert status == 200, answer
        return answer

    async def click(self, action: str, value: str, user: str) -> None:
        self.n += 1
        _, ts, thread = next(b for b in self.api.buttons(action) if b[0] == value)
        payload = block_action(
            action, value, user=user, channel="C1", ts=ts, thread=thread, n=self.n
        )
        status, answer = await self.baton.post(*interaction_body(payload))
        assert status == 200, answer

    def answers(self, needle: str) -> list[str]:
        """What Baton said to a person or the channel (text and blocks) holding `needle`."""
        said = [
            json.dumps(c.params, ensure_ascii=False)
            for c in self.api.calls
            if c.method in ("chat.postMessage", "chat.postEphemeral")
        ]
        return [s for s in said if needle in s]

    async def answered(self, command: str, needle: str) -> bool:
        """Whether `command`'s answer (in the acknowledgement, or from a worker) says
        `needle`."""
        before = len(self.answers(needle))
        ack = await self.command(command)
        if ack and needle in json.dumps(json.loads(ack), ensure_ascii=False):
            return True
        try:
            await eventually(lambda: len(self.answers(needle)) > before, command, 10.0)
        except AssertionError:
            return False
        return True

    def posted(self, needle: str, method: str = "chat.postMessage") -> list[str]:
        return [t for t in self.api.texts(method) if needle in t]

    def new(self, action: str, seen: set[str]) -> list[str]:
        return [v for v, _, _ in self.api.buttons(action) if v not in seen]

    async def state(self, statement: str) -> set[str]:
        """State and confirm an outcome; the approve buttons there were before."""
        asked = {v for v, _, _ in self.api.buttons("approve")}
        confirms = {v for v, _, _ in self.api.buttons("confirm")}
        await self.command(statement)
        (session,) = await eventually(lambda: self.new("confirm", confirms), "Confirm")
        await self.click("confirm", session, "olivia")
        return asked

    async def approve_next(self, statement: str) -> str:
        asked = await self.state(statement)
        (approval,) = await eventually(lambda: self.new("approve", asked), "the approval")
        sent = len(self.posted("Done: send_winback"))
        await self.click("approve", approval, "alice")
        await eventually(lambda: len(self.posted("Done: send_winback")) > sent, "the send")
        return approval


async def test_earned_autonomy_through_slack(
    baton: Baton, slack_api: SlackApiDouble, business: Business
) -> None:
    slack = Slack(baton, slack_api)
    for statement in STATEMENTS[:2]:
        await slack.approve_next(statement)
    for _ in range(5):
        business.advance_day()
    for _ in range(10):
        await slack.command("check o1")
        await slack.command("check o2")
        found = await slack.answered("evidence", "send_winback on at_risk_customers: ")
        if found and any("2 runs" in t for t in slack.answers("send_winback on at_risk")):
            break
    assert any("2 runs" in t for t in slack.answers("send_winback on at_risk_customers: "))
    assert not slack.posted("Approve this without asking")

    approval = await slack.approve_next(STATEMENTS[2])
    await eventually(lambda: slack.posted("Approve this without asking next time?"), "the offer")
    assert [v for v, _, _ in slack_api.buttons("autonomy")] == [approval]

    await slack.click("autonomy", approval, "mallory")
    await eventually(
        lambda: slack.posted("Only the owner and the approvers", "chat.postEphemeral"),
        "the refusal, privately",
    )
    await slack.click("autonomy", approval, "bob")
    await eventually(lambda: slack.posted("Rule added by @bob: auto-approve send_winback"), "rule")
    assert [v for v, _, _ in slack_api.buttons("revoke")] == [approval]
    assert await slack.answered("policies", "· earned (accepted by @bob")

    asked = await slack.state(STATEMENTS[3])
    sent = len(slack.posted("Done: send_winback"))
    await eventually(lambda: len(slack.posted("Done: send_winback")) > sent, "the unasked send")
    assert slack.new("approve", asked) == []

    await slack.click("revoke", approval, "alice")
    await eventually(lambda: slack.posted("Rule revoked by @alice"), "the revocation")
