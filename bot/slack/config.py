"""Slack's settings, checked once at start: fail fast, naming what to set."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from config.settings import Settings
from handlers import texts
from orchestrator.errors import ConfigError


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    signing_secret: str
    app_token: str | None
    api_url: str


def slack_config(settings: Settings) -> SlackConfig | None:
    """The Slack settings, None when Slack is off; a token without a secret is refused,
    except in Socket Mode, where Slack signs nothing: its events come over the websocket."""
    if not settings.slack_bot_token:
        return None
    if not settings.slack_signing_secret and not settings.slack_app_token:
        raise ConfigError(texts.SLACK_NO_SIGNING_SECRET)
    api_url = settings.slack_api_url
    return SlackConfig(
        bot_token=settings.slack_bot_token,
        # Without a secret, POST /slack/events checks signatures against one nobody holds,
        # so it refuses every HTTP request rather than trusting an empty key.
        signing_secret=settings.slack_signing_secret or secrets.token_hex(32),
        app_token=settings.slack_app_token,
        api_url=api_url if api_url.endswith("/") else api_url + "/",
    )


def banner(settings: Settings) -> str:
    """One line for the start-up banner: whether and how Slack is served."""
    config = slack_config(settings)
    if config is None:
        return texts.SLACK_OFF
    if config.app_token:
        return texts.SLACK_SOCKET
    return texts.SLACK_ON.format(api=config.api_url)
