"""Settings from the environment, built once by each process's composition root."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_WORKSPACE = Path(__file__).parent / "demo" / "workspace.yaml"


class Settings(BaseSettings):
    """Every variable Baton reads. Nothing else reads the environment."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    """A Redis server; unset means the embedded one under `state_dir`."""
    key_prefix: str = Field(default="baton", validation_alias="BATON_KEY_PREFIX")
    state_dir: Path = Field(default=Path(".baton"), validation_alias="BATON_STATE_DIR")
    workspace_file: Path = Field(default=DEMO_WORKSPACE, validation_alias="BATON_WORKSPACE")
    env: Literal["development", "production"] = Field(
        default="production", validation_alias=AliasChoices("BATON_ENV")
    )
    port: int = Field(default=3000, validation_alias="PORT")
    log_level: str = Field(default="INFO", validation_alias="BATON_LOG_LEVEL")

    slack_bot_token: str | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")

    microsoft_app_id: str | None = Field(default=None, validation_alias="MICROSOFT_APP_ID")
    microsoft_app_password: str | None = Field(
        default=None, validation_alias="MICROSOFT_APP_PASSWORD"
    )
    microsoft_app_tenant_id: str | None = Field(
        default=None, validation_alias="MICROSOFT_APP_TENANT_ID"
    )
    microsoft_app_type: str = Field(default="MultiTenant", validation_alias="MICROSOFT_APP_TYPE")

    llm: str | None = Field(default=None, validation_alias="BATON_LLM")
    llm_base_url: str | None = Field(default=None, validation_alias="BATON_LLM_BASE_URL")

    def secrets(self) -> list[str]:
        """Configured secret values, for scrubbing."""
        values = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.microsoft_app_password,
        ]
        return [v for v in values if v]
