"""A Teams tenant with its own workspace file (BATON_WORKSPACES_DIR/<tenant id>.yaml) is
answered from that file; another tenant from the default. Activities posted to the running
web application over real HTTP (unauthenticated, as with BATON_ENV=development)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import bootstrap
from bot.demo.simulation import Business
from bot.teams.surface import TEAMS
from bot.web import build_web_app
from config.settings import DEMO_WORKSPACE, Settings
from orchestrator.runtime.clock import ManualClock
from orchestrator.store.keys import Keys
from tests.conftest import START
from tests.doubles.bot_connector import BotConnectorDouble
from tests.teams.activities import TENANT, installation, message

OWN_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
async def connector() -> AsyncIterator[BotConnectorDouble]:
    double = BotConnectorDouble()
    await double.start()
    yield double
    await double.stop()


async def test_each_tenant_is_answered_from_its_own_file(
    redis_url: str,
    keys: Keys,
    business: Business,
    tmp_path: Path,
    connector: BotConnectorDouble,
) -> None:
    directory = tmp_path / "workspaces"
    directory.mkdir()
    own = yaml.safe_load(DEMO_WORKSPACE.read_text())
    own["name"] = "Contoso"
    own["policy"]["default"] = "forbid"
    (directory / f"{OWN_TENANT}.yaml").write_text(yaml.safe_dump(own))
    settings = Settings(
        redis_url=redis_url,
        key_prefix=keys.prefix,
        workspace_file=DEMO_WORKSPACE,
        workspaces_dir=directory,
        state_dir=tmp_path / "state",
        env="development",
    )
    app = await bootstrap(
        settings,
        {},
        platforms=[TEAMS],
        clock=ManualClock(START),
        env={"BATON_DEMO_DB": str(business.path)},
    )
    application, _ = await build_web_app(app, [TEAMS.surface])
    client = TestClient(TestServer(application))
    await client.start_server()
    url = connector.service_url
    try:
        for tenant in (OWN_TENANT, TENANT):
            for activity in (installation("olivia", url), message("olivia", "policies", url)):
                activity["conversation"]["tenantId"] = tenant
                activity["channelData"] = {"tenant": {"id": tenant}}
                async with client.post("/api/messages", json=activity) as response:
                    assert response.status in (200, 201), await response.text()
            await app.runtime.drain()
    finally:
        await client.close()
        await app.close()
    said = [json.dumps(r.body) for r in connector.recorded]
    contoso = [i for i, text in enumerate(said) if "Policy of Contoso: default forbid" in text]
    demo = [i for i, text in enumerate(said) if "Policy of Northwind" in text]
    assert contoso and demo and max(contoso) < min(demo), said
