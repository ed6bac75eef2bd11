"""Tenants stay apart, through the doors people use: Teams activities posted to
`/api/messages` (unauthenticated, as with BATON_ENV=development) and Slack requests signed
and posted to `/slack/events`, on one running web application over real HTTP.

Ids are sequential, so anyone can name another tenant's approval, outcome or statement. A
person is their platform plus their id: the same user id arriving from another tenant, or
from the other platform naming this tenant's id, changes nothing and is told so privately.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import App, bootstrap
from bot.cli import PLATFORMS
from bot.cli_web import surfaces
from bot.demo.simulation import Business
from bot.web import build_web_app
from config.settings import DEMO_WORKSPACE, Settings
from orchestrator.models import ApprovalStatus, OutcomeStatus
from orchestrator.runtime.clock import ManualClock
from orchestrator.store.keys import Keys
from tests.conftest import START
from tests.doubles.bot_connector import BotConnectorDouble
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import block_action, command_body, interaction_body, sign
from tests.teams.activities import TENANT, execute, installation, message

SIGNING_SECRET = "tenancy-signing-secret"
STATEMENT = "Cut monthly churn by 2 points by end of Q1"
SLACK_TEAM = "T1"
OTHER_TENANT = "tenant-2"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


@dataclass
class Doors:
    """One running web application, its two platforms' doubles, and requests to send."""

    app: App
    client: TestClient[web.Request, web.Application]
    connector: BotConnectorDouble
    slack_api: SlackApiDouble
    n: int = 0

    async def teams(self, activity: dict[str, Any], tenant: str = TENANT) -> Any:
        """Post `activity` as from `tenant`; the invoke's answer body, if any."""
        activity["conversation"]["tenantId"] = tenant
        activity["channelData"] = {"tenant": {"id": tenant}}
        async with self.client.post("/api/messages", json=activity) as response:
            assert response.status in (200, 201), await response.text()
            body = await response.json() if response.content_type == "application/json" else None
        await self.app.runtime.drain()
        return body

    async def slack(self, body: str, kind: str) -> None:
        headers = {"Content-Type": kind, **sign(body, secret=SIGNING_SECRET)}
        async with self.client.post("/slack/events", data=body, headers=headers) as response:
            assert response.status == 200, await response.text()
        await self.app.runtime.drain()

    async def slack_command(self, text: str, user: str, team: str = SLACK_TEAM) -> None:
        self.n += 1
        body, kind = command_body(text, user=user, trigger=f"trigger-{self.n}")
        await self.slack(body.replace(f"team_id={SLACK_TEAM}", f"team_id={team}"), kind)

    async def slack_click(self, action: str, value: str, user: str, team: str = SLACK_TEAM) -> None:
        self.n += 1
        payload = block_action(
            action, value, user=user, channel="C1", ts="1.000001", thread=None, n=self.n
        )
        payload["team"]["id"] = payload["user"]["team_id"] = team
        await self.slack(*interaction_body(payload))

    async def pending(self, workspace: str) -> str:
        approvals = await self.app.runtime.ctx.store.pending_approvals(workspace)
        assert len(approvals) == 1, approvals
        return approvals[0].id


@pytest.fixture
async def doors(
    redis_url: str, keys: Keys, business: Business, tmp_path: Path
) -> AsyncIterator[Doors]:
    connector, slack_api = BotConnectorDouble(), SlackApiDouble()
    await connector.start()
    await slack_api.start()
    settings = Settings(
        redis_url=redis_url,
        key_prefix=keys.prefix,
        workspace_file=DEMO_WORKSPACE,
        state_dir=tmp_path / "state",
        slack_bot_token="xoxb-tenancy",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api.base_url,
        env="development",
    )
    app = await bootstrap(
        settings,
        {},
        platforms=PLATFORMS,
        clock=ManualClock(START),
        env={"BATON_DEMO_DB": str(business.path)},
    )
    application, _ = await build_web_app(app, surfaces(app))
    client = TestClient(TestServer(application))
    await client.start_server()
    try:
        yield Doors(app, client, connector, slack_api)
    finally:
        await client.close()
        await app.close()
        await connector.stop()
        await slack_api.stop()


async def _teams_approval(doors: Doors) -> str:
    """An outcome stated and confirmed in Teams (tenant-1), with its approval pending."""
    url = doors.connector.service_url
    await doors.teams(installation("olivia", url))
    await doors.teams(message("olivia", STATEMENT, url, mention=True))
    confirm = [
        a["data"]["value"]
        for r in doors.connector.of("send")
        for a in (r.card or {}).get("actions", [])
        if a.get("verb") == "confirm"
    ]
    body = await doors.teams(execute("olivia", "confirm", confirm[-1], url))
    assert "Confirmed" in str(body["value"])
    return await doors.pending(TENANT)


async def _slack_approval(doors: Doors) -> str:
    """An outcome stated and confirmed in Slack (team T1), with its approval pending."""
    await doors.slack_command(STATEMENT, "olivia")
    session = doors.slack_api.buttons("confirm")[-1][0]
    await doors.slack_click("confirm", session, "olivia")
    return await doors.pending(SLACK_TEAM)


async def test_a_teams_refresh_from_another_tenant_shows_nothing(doors: Doors) -> None:
    approval_id = await _teams_approval(doors)
    url = doors.connector.service_url
    own = await doors.teams(execute("alice", "refresh", approval_id, url))
    assert own["type"] == ADAPTIVE and "Approval needed" in json.dumps(own["value"])
    other = await doors.teams(execute("mallory", "refresh", approval_id, url), OTHER_TENANT)
    assert other["type"] != ADAPTIVE, other
    assert "Approval needed" not in json.dumps(other)


async def test_another_teams_tenant_neither_decides_nor_controls(doors: Doors) -> None:
    approval_id = await _teams_approval(doors)
    store, url = doors.app.runtime.ctx.store, doors.connector.service_url
    approval = await store.approval(approval_id)
    for verb in ("approve", "reject"):
        body = await doors.teams(
            execute("alice", verb, approval_id, url, reason="no"), OTHER_TENANT
        )
        assert body["type"] != ADAPTIVE, body  # a short private answer, not the card
    for command in ("pause", "stop", "check"):
        await doors.teams(message("alice", f"{command} {approval.outcome_id}", url), OTHER_TENANT)
    await doors.teams(message("alice", "pause all", url), OTHER_TENANT)
    assert (await store.approval(approval_id)).status is ApprovalStatus.PENDING
    assert (await store.outcome(approval.outcome_id)).status is OutcomeStatus.ACTIVE
    assert not await store.kill_switch(TENANT)


async def test_a_teams_identity_naming_a_slack_team_cannot_act_on_it(doors: Doors) -> None:
    """Unauthenticated Teams requests that name the Slack team's id as their tenant, with the
    ids of the Slack approvers and owner, get nothing of the Slack workspace."""
    approval_id = await _slack_approval(doors)
    store, url = doors.app.runtime.ctx.store, doors.connector.service_url
    outcome_id = (await store.approval(approval_id)).outcome_id
    await doors.teams(installation("alice", url), SLACK_TEAM)
    for verb in ("approve", "reject", "refresh"):
        body = await doors.teams(execute("alice", verb, approval_id, url, reason="no"), SLACK_TEAM)
        assert body["type"] != ADAPTIVE, body
    for command in (f"pause {outcome_id}", f"stop {outcome_id}", "pause all"):
        await doors.teams(message("olivia", command, url), SLACK_TEAM)
    await doors.teams(message("olivia", STATEMENT, url, mention=True), SLACK_TEAM)
    assert (await store.approval(approval_id)).status is ApprovalStatus.PENDING
    assert (await store.outcome(outcome_id)).status is OutcomeStatus.ACTIVE
    assert not await store.kill_switch(SLACK_TEAM)
    assert [o.id for o in await store.outcomes(SLACK_TEAM)] == [outcome_id]
    assert not [r for r in doors.connector.of("send") if r.card and "confirm" in json.dumps(r.card)]


async def test_a_slack_identity_naming_a_teams_tenant_cannot_act_on_it(doors: Doors) -> None:
    """Signed Slack requests from a team whose id is a Teams tenant's get nothing of it."""
    approval_id = await _teams_approval(doors)
    store = doors.app.runtime.ctx.store
    outcome_id = (await store.approval(approval_id)).outcome_id
    await doors.slack_click("approve", approval_id, "alice", team=TENANT)
    for command in (f"pause {outcome_id}", f"stop {outcome_id}", "pause all", STATEMENT):
        await doors.slack_command(command, "olivia", team=TENANT)
    assert (await store.approval(approval_id)).status is ApprovalStatus.PENDING
    assert (await store.outcome(outcome_id)).status is OutcomeStatus.ACTIVE
    assert not await store.kill_switch(TENANT)
    assert [o.id for o in await store.outcomes(TENANT)] == [outcome_id]
