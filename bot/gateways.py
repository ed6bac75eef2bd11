"""Chat gateways by platform, built once per process from the settings and the store."""

from __future__ import annotations

from collections.abc import Callable

from config.settings import Settings
from handlers.ports import ChatGateway
from orchestrator.store.redis_store import RedisStore

GatewayFactory = Callable[[Settings, RedisStore], ChatGateway | None]
"""Builds a platform's gateway, or None when the platform is not configured."""

FACTORIES: dict[str, GatewayFactory] = {}
"""Platform name -> factory. Each platform module registers its own."""


def build_gateways(settings: Settings, store: RedisStore) -> dict[str, ChatGateway]:
    built = {platform: factory(settings, store) for platform, factory in FACTORIES.items()}
    return {platform: gateway for platform, gateway in built.items() if gateway is not None}
