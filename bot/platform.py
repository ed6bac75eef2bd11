"""A chat platform as a process wires it: its gateway, its web surface, its own job kinds.

Each platform package offers one `Platform` value (`bot.slack.SLACK`, `bot.teams.TEAMS`);
the composition root chooses the list and passes it to `bootstrap` (gateways and job kinds)
and to the web server (surfaces). Importing a platform package wires nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.settings import Settings
from handlers.ports import ChatGateway
from orchestrator.runtime.clock import Clock
from orchestrator.runtime.dispatch import AnyHandler
from orchestrator.runtime.messages import Message
from orchestrator.store.redis_store import RedisStore

if TYPE_CHECKING:
    from aiohttp import web

    from bot.bootstrap import App

GatewayFactory = Callable[[Settings, RedisStore, Clock], ChatGateway | None]
"""Builds a platform's gateway, or None when the platform is not configured. The clock is
the one the process schedules by, so a gateway that paces tells time the same way."""

Surface = Callable[["web.Application", "App"], Awaitable[str]]
"""Mounts a surface's routes on the web server; returns a one-line status for the start-up
banner."""

JobKinds = Callable[["App"], Mapping[type[Message], AnyHandler]]
"""A platform's own job kinds (e.g. Slack's request-path replies) for one process."""


def no_job_kinds(baton: App) -> Mapping[type[Message], AnyHandler]:
    return {}


@dataclass(frozen=True)
class Platform:
    """One chat platform, as every process of Baton wires it."""

    name: str
    """The platform's name in conversation references (`slack`, `teams`)."""
    gateway: GatewayFactory
    """Its outbound port, for every process that delivers notices."""
    surface: Surface
    """Its routes on `baton web` (`POST /slack/events`, `POST /api/messages`)."""
    job_kinds: JobKinds = no_job_kinds
    """Its own durable work, registered on every process's runtime."""


def build_gateways(
    platforms: Iterable[Platform], settings: Settings, store: RedisStore, clock: Clock
) -> dict[str, ChatGateway]:
    """The gateways of the configured platforms among `platforms`, by platform name."""
    built = {platform.name: platform.gateway(settings, store, clock) for platform in platforms}
    return {name: gateway for name, gateway in built.items() if gateway is not None}
