"""Which credentials Teams needs, and whether Baton may serve Teams without them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from config.settings import Settings

_NEEDED = {
    "multitenant": ("MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD"),
    "singletenant": ("MICROSOFT_APP_ID", "MICROSOFT_APP_PASSWORD", "MICROSOFT_APP_TENANT_ID"),
    "userassignedmsi": ("MICROSOFT_APP_ID", "MICROSOFT_APP_TENANT_ID"),
}


class AuthMode(Enum):
    AUTHENTICATED = "authenticated"
    OPEN = "open"
    """Inbound authentication off: development only, for the Emulator and local tests."""
    REFUSED = "refused"


@dataclass(frozen=True)
class BotConfiguration:
    """The attribute names botbuilder's configuration-based factories read."""

    APP_ID: str | None
    APP_PASSWORD: str | None
    APP_TENANTID: str | None
    APP_TYPE: str


def missing_variables(settings: Settings) -> list[str]:
    """Environment variables the configured app type needs but are unset."""
    values = {
        "MICROSOFT_APP_ID": settings.microsoft_app_id,
        "MICROSOFT_APP_PASSWORD": settings.microsoft_app_password,
        "MICROSOFT_APP_TENANT_ID": settings.microsoft_app_tenant_id,
    }
    needed = _NEEDED.get(settings.microsoft_app_type.lower(), _NEEDED["multitenant"])
    return [name for name in needed if not values[name]]


def auth_mode(settings: Settings) -> AuthMode:
    if not missing_variables(settings):
        return AuthMode.AUTHENTICATED
    if settings.env == "development" and not settings.microsoft_app_id:
        return AuthMode.OPEN
    return AuthMode.REFUSED


def bot_configuration(settings: Settings) -> BotConfiguration:
    return BotConfiguration(
        APP_ID=settings.microsoft_app_id,
        APP_PASSWORD=settings.microsoft_app_password,
        APP_TENANTID=settings.microsoft_app_tenant_id,
        APP_TYPE=settings.microsoft_app_type,
    )
