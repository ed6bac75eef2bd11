"""The Redis installation and OAuth state stores (Bolt's contracts), the Slack settings for
an install into many workspaces, and the workspace file each tenant gets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from redis.asyncio import Redis
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging import Scrubber, all_secrets
from bot.slack.config import slack_config
from bot.slack.gateway import SlackGateway, SlackRefused
from bot.slack.installations import RedisInstallationStore, RedisOAuthStateStore
from config.settings import DEMO_WORKSPACE, Settings
from config.workspace import load_workspaces
from handlers.cards import Card
from orchestrator.errors import ConfigError
from orchestrator.models import ConversationRef
from orchestrator.store.keys import Keys
from tests.doubles.slack_api import SlackApiDouble
from tests.slack.conftest import small_png

KEY = Fernet.generate_key().decode()


def _installation(team: str, token: str, user: str = "UADMIN") -> Installation:
    return Installation(
        app_id="A1",
        team_id=team,
        team_name=f"Team {team}",
        bot_token=token,
        bot_id="B1",
        bot_user_id="UBATON",
        bot_scopes="chat:write,commands",
        user_id=user,
    )


@pytest.fixture
def installations(redis: Redis, keys: Keys) -> RedisInstallationStore:
    return RedisInstallationStore(redis, keys, Fernet(KEY.encode()))


async def test_an_installation_is_stored_encrypted_and_found_per_team(
    installations: RedisInstallationStore, redis: Redis, keys: Keys
) -> None:
    await installations.async_save(_installation("T2", "xoxb-two"))
    await installations.async_save(_installation("T3", "xoxb-three"))
    raw = await redis.hgetall(keys.slack_installation("T2"))
    assert raw and all(b"xoxb-two" not in value for value in raw.values())

    assert await installations.bot_token("T2") == "xoxb-two"
    assert await installations.bot_token("T3") == "xoxb-three"
    assert await installations.bot_token("T9") is None
    found = await installations.async_find_installation(enterprise_id=None, team_id="T2")
    assert found is not None and found.team_name == "Team T2"
    # Asked for another person's installation: Baton keeps only the installer's.
    other = await installations.async_find_installation(
        enterprise_id=None, team_id="T2", user_id="USOMEONE"
    )
    assert other is None


async def test_a_reinstall_replaces_the_token_and_an_uninstall_removes_it(
    installations: RedisInstallationStore,
) -> None:
    await installations.async_save(_installation("T2", "xoxb-old"))
    await installations.async_save(_installation("T2", "xoxb-new"))
    assert await installations.bot_token("T2") == "xoxb-new"
    await installations.async_delete_all(enterprise_id=None, team_id="T2")
    assert await installations.bot_token("T2") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T2") is None


async def test_tokens_sealed_under_another_key_do_not_open(
    installations: RedisInstallationStore, redis: Redis, keys: Keys
) -> None:
    await installations.async_save(_installation("T2", "xoxb-two"))
    other = RedisInstallationStore(redis, keys, Fernet(Fernet.generate_key()))
    assert await other.bot_token("T2") is None


async def test_a_state_is_consumed_once_and_expires(redis: Redis, keys: Keys) -> None:
    states = RedisOAuthStateStore(redis, keys, expiration_s=600)
    state = await states.async_issue()
    assert 0 < await redis.ttl(keys.slack_oauth_state(state)) <= 600
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
    assert await states.async_consume("never-issued") is False


def _settings(**values: str) -> Settings:
    return Settings.model_validate(values)


def test_oauth_settings_fail_fast_naming_what_to_set() -> None:
    secret = {"SLACK_SIGNING_SECRET": "s"}
    with pytest.raises(ConfigError, match="SLACK_CLIENT_SECRET"):
        slack_config(_settings(SLACK_CLIENT_ID="1.2", **secret))
    with pytest.raises(ConfigError, match="BATON_SLACK_TOKEN_KEY is required"):
        slack_config(_settings(SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="c", **secret))
    with pytest.raises(ConfigError, match="not a Fernet key"):
        slack_config(
            _settings(
                SLACK_CLIENT_ID="1.2",
                SLACK_CLIENT_SECRET="c",
                BATON_SLACK_TOKEN_KEY="not-a-key",
                **secret,
            )
        )
    oauth = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c", "BATON_SLACK_TOKEN_KEY": KEY}
    with pytest.raises(ConfigError, match="not both"):
        slack_config(_settings(SLACK_BOT_TOKEN="xoxb-1", **oauth, **secret))
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        slack_config(_settings(**oauth))
    config = slack_config(_settings(**oauth, **secret))
    assert config is not None and config.bot_token is None and config.oauth is not None
    single = slack_config(_settings(SLACK_BOT_TOKEN="xoxb-1", **secret))
    assert single is not None and single.oauth is None and single.bot_token == "xoxb-1"


def _file(directory: Path, name: str, title: str) -> None:
    raw = yaml.safe_load(DEMO_WORKSPACE.read_text())
    raw["name"] = title
    (directory / name).write_text(yaml.safe_dump(raw))


def test_each_tenant_gets_its_own_file_else_the_default(tmp_path: Path) -> None:
    _file(tmp_path, "T2.yaml", "Two Ltd")
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # a Teams tenant id
    _file(tmp_path, f"{tenant}.yml", "Contoso")
    files = load_workspaces(DEMO_WORKSPACE, tmp_path)
    assert files.of("T2").name == "Two Ltd"
    assert files.of(tenant).name == "Contoso"
    assert files.of("T9") is files.default and files.default.name.startswith("Northwind")
    assert len(files.distinct()) == 3

    _file(tmp_path, "default.yaml", "Everyone else")
    assert load_workspaces(DEMO_WORKSPACE, tmp_path).of("T9").name == "Everyone else"
    assert load_workspaces(DEMO_WORKSPACE, None).of("T2").name.startswith("Northwind")


def test_a_bad_file_in_the_directory_stops_start_up_naming_it(tmp_path: Path) -> None:
    (tmp_path / "T2.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"T2\.yaml"):
        load_workspaces(DEMO_WORKSPACE, tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        load_workspaces(DEMO_WORKSPACE, tmp_path / "missing")


def test_installed_tokens_and_every_files_secrets_are_scrubbed_from_logs(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEMO_WORKSPACE.read_text())
    raw["connections"]["crm"]["url"] = "postgresql://baton:${T2_DB_PASSWORD}@db/crm"
    (tmp_path / "T2.yaml").write_text(yaml.safe_dump(raw))
    settings = Settings.model_validate({"BATON_WORKSPACES_DIR": str(tmp_path)})
    scrub = Scrubber(all_secrets(settings, {"T2_DB_PASSWORD": "hunter2-of-two"}))
    line = scrub.text("token xoxb-T2-1234567 for T2; password hunter2-of-two")
    assert "xoxb-T2" not in line and "hunter2" not in line and "for T2" in line


async def test_the_gateway_calls_each_team_with_its_token_and_refuses_an_uninstalled_one(
    installations: RedisInstallationStore, slack_api: SlackApiDouble
) -> None:
    await installations.async_save(_installation("T2", "xoxb-two"))
    await installations.async_save(_installation("T3", "xoxb-three"))
    client = AsyncWebClient(base_url=slack_api.base_url)  # no token of its own
    slack = SlackGateway(client, token_of=installations.bot_token)
    for team in ("T2", "T3"):
        where = ConversationRef(platform="slack", workspace=team, channel="C1")
        await slack.send(conversation=where, card=Card(title=f"Hello {team}"))
        await slack.send_private(conversation=where, user="U1", card=Card(title="Only you"))
        await slack.upload_image(conversation=where, title="chart", png=small_png())
        await slack.publish_home(team=team, user="U1", view={"type": "home", "blocks": []})
        assert await slack.user_name(workspace=team, user="U1") is None  # double: no profile
    by_token = {c.token for c in slack_api.calls if c.params.get("channel") == "C1"}
    assert by_token == {"xoxb-two", "xoxb-three"}
    assert all(c.token in ("xoxb-two", "xoxb-three") for c in slack_api.calls)

    nowhere = ConversationRef(platform="slack", workspace="T9", channel="C1")
    calls = len(slack_api.calls)
    with pytest.raises(SlackRefused) as refused:
        await slack.send(conversation=nowhere, card=Card(title="Hello"))
    assert refused.value.code == "not_installed" and len(slack_api.calls) == calls
