"""The keys that seal the audit trail, from the settings; production refuses to run without.

A deployment that serves Slack or Teams in production must seal its trail: without a key,
anyone who can write Redis can rewrite it and `baton audit verify` cannot tell. Elsewhere
(`BATON_ENV=development`, the demo, the console) Baton runs unkeyed and says so in the log.
"""

from __future__ import annotations

import logging

from config.settings import Settings
from orchestrator.errors import ConfigError
from orchestrator.store.audit_seal import AuditKeys

log = logging.getLogger("baton")

KEY_REQUIRED = (
    "BATON_AUDIT_KEY is not set: in production the audit trail is sealed with a key; set it "
    "to a secret of 32+ characters (e.g. `openssl rand -hex 32`), or BATON_AUDIT_KEYS to rotate"
)
UNKEYED = (
    "audit trail UNKEYED: anyone who can write Redis can rewrite it undetected; "
    "set BATON_AUDIT_KEY to seal it"
)


def audit_keys(settings: Settings) -> AuditKeys:
    """The configured keys; a `ConfigError` when they are malformed, or missing where
    production serves a chat platform."""
    keys = AuditKeys.parse(settings.audit_keys, settings.audit_key)
    if keys.ring:
        return keys
    if settings.env == "production" and serves_chat(settings):
        raise ConfigError(KEY_REQUIRED)
    log.warning(UNKEYED)
    return keys


def serves_chat(settings: Settings) -> bool:
    """Whether Slack or Teams credentials are configured (people rely on this trail)."""
    return bool(
        settings.slack_signing_secret or settings.slack_bot_token or settings.microsoft_app_id
    )
