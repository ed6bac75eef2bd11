"""Slack's settings, checked once at start: fail fast, naming what to set."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from bot.slack.installations import token_cipher
from config.settings import Settings
from handlers import texts
from orchestrator.errors import ConfigError


@dataclass(frozen=True)
class SlackOAuth:
    """Installed into many workspaces with Slack's OAuth v2 flow (`/slack/install`)."""

    client_id: str
    client_secret: str
    token_key: str
    """The Fernet key for tokens at rest (`BATON_SLACK_TOKEN_KEY`, checked at start)."""
    redirect_uri: str | None
    authorize_url: str


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str | None
    """The one workspace's token; None when each team's comes from its installation."""
    signing_secret: str
    app_token: str | None
    api_url: str
    oauth: SlackOAuth | None = None
    assistant: bool = False
    """Serve the assistant container (`BATON_SLACK_ASSISTANT`)."""


def slack_config(settings: Settings) -> SlackConfig | None:
    """The Slack settings, None when Slack is off; a token without a secret is refused,
    except in Socket Mode, where Slack signs nothing: its events come over the websocket."""
    oauth = _oauth(settings)
    if not settings.slack_bot_token and oauth is None:
        return None
    if oauth is not None and not settings.slack_signing_secret:
        raise ConfigError(texts.SLACK_OAUTH_NO_SECRET)
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
        oauth=oauth,
        assistant=settings.slack_assistant,
    )


def _oauth(settings: Settings) -> SlackOAuth | None:
    client_id, client_secret = settings.slack_client_id, settings.slack_client_secret
    if not client_id and not client_secret:
        return None
    if not client_id or not client_secret:
        raise ConfigError(texts.SLACK_OAUTH_HALF)
    if settings.slack_bot_token:
        raise ConfigError(texts.SLACK_OAUTH_AND_TOKEN)
    token_cipher(settings.slack_token_key)  # a missing or malformed key fails start-up
    return SlackOAuth(
        client_id=client_id,
        client_secret=client_secret,
        token_key=str(settings.slack_token_key),
        redirect_uri=settings.slack_redirect_uri,
        authorize_url=settings.slack_authorize_url,
    )


def banner(settings: Settings) -> str:
    """One line for the start-up banner: whether and how Slack is served."""
    config = slack_config(settings)
    if config is None:
        return texts.SLACK_OFF
    if config.app_token:
        return texts.SLACK_SOCKET
    if config.oauth is not None:
        return texts.SLACK_OAUTH_ON.format(api=config.api_url)
    return texts.SLACK_ON.format(api=config.api_url)
