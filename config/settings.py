"""Settings from the environment, built once by each process's composition root."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.connection import parse_url

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
    port: int = Field(default=3000, ge=0, le=65535, validation_alias="PORT")
    host: str = Field(default="0.0.0.0", min_length=1, validation_alias="BATON_HOST")
    """The address `baton web` (and `baton run`) listens on: every interface by default, as
    a container expects; 127.0.0.1 keeps it to this machine (behind a local proxy)."""
    log_level: str = Field(default="INFO", validation_alias="BATON_LOG_LEVEL")

    slack_bot_token: str | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    """With SLACK_CLIENT_SECRET: install into many workspaces with Slack's OAuth v2 flow
    (`/slack/install`), each team's bot token kept in Redis, instead of one SLACK_BOT_TOKEN."""
    slack_client_secret: str | None = Field(default=None, validation_alias="SLACK_CLIENT_SECRET")
    slack_token_key: str | None = Field(default=None, validation_alias="BATON_SLACK_TOKEN_KEY")
    """The Fernet key that encrypts installed teams' tokens at rest in Redis (OAuth only)."""
    slack_redirect_uri: str | None = Field(default=None, validation_alias="SLACK_REDIRECT_URI")
    """`https://<host>/slack/oauth_redirect`; unset, Slack uses the app's one redirect URL."""
    slack_authorize_url: str = Field(
        default="https://slack.com/oauth/v2/authorize", validation_alias="SLACK_AUTHORIZE_URL"
    )
    slack_assistant: bool = Field(default=False, validation_alias="BATON_SLACK_ASSISTANT")
    """Serve Slack's assistant container (split view, suggested prompts, thread status);
    the app's manifest must have it too (`baton manifest slack --assistant`)."""
    workspaces_dir: Path | None = Field(default=None, validation_alias="BATON_WORKSPACES_DIR")
    """A directory of workspace files named by Slack team id or Teams tenant id
    (`T0123.yaml`); a team without a file gets `default.yaml` there, else BATON_WORKSPACE."""

    microsoft_app_id: str | None = Field(default=None, validation_alias="MICROSOFT_APP_ID")
    microsoft_app_password: str | None = Field(
        default=None, validation_alias="MICROSOFT_APP_PASSWORD"
    )
    microsoft_app_tenant_id: str | None = Field(
        default=None, validation_alias="MICROSOFT_APP_TENANT_ID"
    )
    microsoft_app_type: str = Field(default="MultiTenant", validation_alias="MICROSOFT_APP_TYPE")

    audit_keys: str = Field(default="", validation_alias="BATON_AUDIT_KEYS")
    """Keys that seal the audit trail, `id:secret` newest first (`k2:...,k1:...`): the
    first seals new events, all verify. Production that serves Slack or Teams needs one."""
    audit_key: str = Field(default="", validation_alias="BATON_AUDIT_KEY")
    """One secret that seals the audit trail (its id is `k1`); BATON_AUDIT_KEYS rotates."""

    llm: str | None = Field(default=None, validation_alias="BATON_LLM")
    llm_base_url: str | None = Field(default=None, validation_alias="BATON_LLM_BASE_URL")
    llm_timeout_s: float = Field(default=30.0, validation_alias="BATON_LLM_TIMEOUT_S")
    """Client timeout per model request; retries (with backoff) come on top."""
    llm_daily_tokens: int = Field(default=500_000, validation_alias="BATON_LLM_DAILY_TOKENS")
    """Tokens each workspace may use per day; past it Baton plans with playbooks."""
    llm_max_output_tokens: int = Field(
        default=2_048, ge=64, le=100_000, validation_alias="BATON_LLM_MAX_OUTPUT_TOKENS"
    )
    """The most tokens one model reply may have (OpenAI and Anthropic `max_tokens`, Ollama
    `num_predict`): a runaway answer is cut there and billed no further."""

    pager_webhook_url: str | None = Field(default=None, validation_alias="BATON_PAGER_WEBHOOK_URL")
    """A URL that receives each incident as JSON (trigger and resolve)."""
    pagerduty_routing_key: str | None = Field(
        default=None, validation_alias="PAGERDUTY_ROUTING_KEY"
    )
    """An Events API v2 integration key; set it to page through PagerDuty."""
    pagerduty_events_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue", validation_alias="PAGERDUTY_EVENTS_URL"
    )
    pager_allow_private: str = Field(default="", validation_alias="BATON_PAGER_ALLOW_PRIVATE")
    """Comma-separated networks (CIDR) the pagers may reach although they are not public,
    e.g. `10.20.0.0/16` for an alert relay inside the network; unset, a pager URL on a
    loopback, private, link-local or metadata address is refused."""
    runbook_url: str = Field(default="", validation_alias="BATON_RUNBOOK_BASE_URL")
    """Prefix for RUNBOOK.md links in pages, e.g. https://github.com/acme/baton/blob/main/."""
    worker_visibility_s: float = Field(default=30.0, validation_alias="BATON_WORKER_VISIBILITY_S")
    """A job whose worker has not renewed its claim for this long (the worker renews three
    times per timeout while the job runs) is taken over by another worker; the first one's
    later commits are then refused (fencing)."""
    outage_give_up_h: float = Field(default=6.0, gt=0, validation_alias="BATON_OUTAGE_GIVE_UP_H")
    """How long a delivery waits out an outage of the chat platform (or another system it
    depends on) before it is given up, dead-lettered and raised as an incident."""
    worker_slots: int = Field(default=4, ge=1, le=10, validation_alias="BATON_WORKER_SLOTS")
    """Jobs about different outcomes one worker handles side by side (1: one at a time); as
    many again for jobs that call connectors (ticks, step executions)."""
    worker_in_flight: int = Field(
        default=16, ge=1, le=200, validation_alias="BATON_WORKER_IN_FLIGHT"
    )
    """Jobs one worker holds at most: running, or read while others run and waiting for a
    slot or for the jobs of their outcome before them."""
    shutdown_grace_s: float = Field(default=10.0, validation_alias="BATON_SHUTDOWN_GRACE_S")
    clock_every_s: float = Field(default=1.0, validation_alias="BATON_CLOCK_EVERY_S")
    leader_ttl_s: float = Field(default=5.0, validation_alias="BATON_LEADER_TTL_S")
    """A dead clock's lock expires after this; the standby takes over then."""
    health_port: int | None = Field(
        default=None, ge=0, le=65535, validation_alias="BATON_HEALTH_PORT"
    )
    """`baton worker` and `baton clock`: serve GET /healthz and /readyz on this port for an
    orchestrator's probes (`baton web` has its own on PORT); unset, no probe server."""
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, validation_alias="BATON_METRICS_PORT"
    )
    """`baton web` (and `baton run`): serve GET /metrics on this port only, off the public
    one; unset, /metrics is on PORT. Worker and clock serve it on BATON_HEALTH_PORT."""
    metrics_token: str | None = Field(default=None, validation_alias="BATON_METRICS_TOKEN")
    """When set, GET /metrics answers 401 unless `Authorization: Bearer <token>` is sent."""
    otel_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    """With the `otel` extra installed: export traces by OTLP/HTTP to this collector."""
    otel_service_name: str = Field(default="baton", validation_alias="OTEL_SERVICE_NAME")
    log_json: bool = Field(default=True, validation_alias="BATON_LOG_JSON")
    """Structured JSON log lines (set false for plain text while developing)."""
    history_url: str | None = Field(default=None, validation_alias="BATON_HISTORY_URL")
    """Where history moved out of Redis is kept: a SQLAlchemy URL (`postgresql://...`);
    unset, a SQLite file under `state_dir` (history.sqlite3)."""
    history_live_audit: int = Field(
        default=1_000, ge=1, validation_alias="BATON_HISTORY_LIVE_AUDIT"
    )
    """Audit events Redis keeps per workspace (the newest); older ones are moved to the
    history store, where `baton audit` and its verification read them."""
    history_live_measurements: int = Field(
        default=12, ge=1, validation_alias="BATON_HISTORY_LIVE_MEASUREMENTS"
    )
    """Measurements Redis keeps per outcome (the trend, the chart's recent window)."""
    history_keep: str = Field(default="", validation_alias="BATON_HISTORY_KEEP")
    """Days the history store keeps each kind, e.g. `steps=365,measurements=90,approvals=365`;
    a kind not listed is kept for good. The audit trail is always kept."""
    history_batch: int = Field(default=500, ge=1, le=10_000, validation_alias="BATON_HISTORY_BATCH")
    """Records the archive moves per batch (one SQL transaction, one Redis script)."""

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        """A URL redis-py would misread (or read as another server) fails at start."""
        if value:
            _check_redis_url(value)
        return value or None

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("pager_allow_private")
    @classmethod
    def _pager_networks(cls, value: str) -> str:
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"BATON_PAGER_ALLOW_PRIVATE: {entry!r} is not a network") from None
        return value

    def pager_allowed(self) -> tuple[str, ...]:
        """The networks of `BATON_PAGER_ALLOW_PRIVATE`, one per entry."""
        return _entries(self.pager_allow_private)

    def secrets(self) -> list[str]:
        """Configured secret values, for scrubbing."""
        values = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.slack_client_secret,
            self.slack_token_key,
            self.microsoft_app_password,
            self.pagerduty_routing_key,
            self.audit_key,
            *(item.strip().partition(":")[2] for item in self.audit_keys.split(",")),
        ]
        return [v for v in values if v]


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDIS_URL_FORM = (
    "redis://[:password@]host:port/db (or rediss://, or unix:///path/to/redis.sock, "
    "or redis+cluster://host:port for any node of a cluster)"
)


def _check_redis_url(url: str) -> None:
    """Raises ValueError naming what is wrong, never echoing the URL (it may hold a password)."""
    url = url.replace("+cluster://", "://", 1)  # a cluster's node (`redis+cluster://`)
    try:
        parts = parse_url(url)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
    except ValueError as error:
        raise ValueError(f"not a Redis URL ({error}); expected {REDIS_URL_FORM}") from None
    if "path" in parts:
        return  # a Unix socket
    if not parts.get("host"):
        raise ValueError(f"no host; expected {REDIS_URL_FORM}")
    database = url.split("?", 1)[0].split("://", 1)[1].partition("/")[2]
    if database and not database.isdigit():
        raise ValueError(f"the database must be a number; expected {REDIS_URL_FORM}")


def _entries(listed: str) -> tuple[str, ...]:
    return tuple(entry.strip() for entry in listed.split(",") if entry.strip())
