"""Chat gateways by platform, built once per process from the settings and the store."""

from __future__ import annotations

from collections.abc import Callable

from config.settings import Settings
from handlers.ports import ChatGateway
from orchestrator.runtime.clock import Clock
from orchestrator.store.redis_store import RedisStore

GatewayFactory = Callable[[Settings, RedisStore, Clock], ChatGateway | None]
"""Builds a platform's gateway, or None when the platform is not configured. The clock is
the one the process schedules by, so a gateway that paces tells time the same way."""

FACTORIES: dict[str, GatewayFactory] = {}
"""Platform name -> factory. Each platform module registers its own."""


def build_gateways(settings: Settings, store: RedisStore, clock: Clock) -> dict[str, ChatGateway]:
    built = {platform: make(settings, store, clock) for platform, make in FACTORIES.items()}
    return {platform: gateway for platform, gateway in built.items() if gateway is not None}
