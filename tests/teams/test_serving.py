"""How Teams is served: credentials, development mode, refusal; and the app package."""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import App, bootstrap
from bot.cli_teams import write_package
from bot.teams.auth import AuthMode, auth_mode, missing_variables
from bot.teams.surface import mount
from bot.web import build_web_app
from config.settings import Settings
from orchestrator.store.keys import Keys
from tests.teams.activities import message

APP_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


def test_credentials_decide_the_mode() -> None:
    assert auth_mode(Settings(env="development")) is AuthMode.OPEN
    assert auth_mode(Settings(env="production")) is AuthMode.REFUSED
    assert missing_variables(Settings(env="production")) == [
        "MICROSOFT_APP_ID",
        "MICROSOFT_APP_PASSWORD",
    ]
    partial = Settings(env="development", microsoft_app_id=APP_ID)
    assert auth_mode(partial) is AuthMode.REFUSED
    single = Settings(
        microsoft_app_id=APP_ID, microsoft_app_password="s", microsoft_app_type="SingleTenant"
    )
    assert missing_variables(single) == ["MICROSOFT_APP_TENANT_ID"]
    full = Settings(microsoft_app_id=APP_ID, microsoft_app_password="s")
    assert auth_mode(full) is AuthMode.AUTHENTICATED


async def _client(
    settings: Settings,
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], str]]:
    baton: App = await bootstrap(settings, {})
    application, notes = await build_web_app(baton, [mount])
    client = TestClient(TestServer(application))
    await client.start_server()
    try:
        yield client, notes[0]
    finally:
        await client.close()
        await baton.close()


@pytest.fixture
def settings(redis_url: str, keys: Keys, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_url, key_prefix=keys.prefix, state_dir=tmp_path)


async def test_production_without_credentials_refuses_and_names_them(settings: Settings) -> None:
    async for client, note in _client(settings.model_copy(update={"env": "production"})):
        assert "MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD" in note
        response = await client.post("/api/messages", json=message("olivia", "help"))
        assert response.status == 503
        assert "MICROSOFT_APP_PASSWORD" in (await response.json())["error"]


async def test_with_credentials_an_unauthenticated_request_is_refused(settings: Settings) -> None:
    configured = settings.model_copy(
        update={
            "env": "production",
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": "pw",
            "audit_key": "serving-audit-key-" + "0" * 32,  # production serving needs one
        }
    )
    async for client, note in _client(configured):
        assert APP_ID in note
        response = await client.post("/api/messages", json=message("olivia", "help"))
        assert response.status == 401


def test_app_package_holds_manifest_and_icons(tmp_path: Path) -> None:
    path = write_package(tmp_path / "baton.zip", APP_ID, "https://baton.example.com")
    with zipfile.ZipFile(path) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        color, outline = package.read("color.png"), package.read("outline.png")
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["baton.example.com"]
    assert color.startswith(b"\x89PNG") and color[16:24] == (192).to_bytes(4, "big") * 2
    assert outline[16:24] == (32).to_bytes(4, "big") * 2
