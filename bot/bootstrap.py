"""The composition root: settings in, a wired Baton out. One per process."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterUnreachableError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.audit_keys import audit_keys
from bot.capacity import RedisCapacity
from bot.platform import Platform, build_gateways
from config.settings import Settings
from config.workspace import WorkspaceFiles, load_workspaces
from handlers.conversation import Conversation
from handlers.notifier import ChatNotifier
from handlers.ports import ChatGateway
from orchestrator.connectors import Connectors
from orchestrator.errors import BatonError
from orchestrator.history.archive import Archiver, retention
from orchestrator.history.store import HistoryStore, default_url
from orchestrator.notify.paging import PagerDutyPager, Pagers, WebhookPager
from orchestrator.runtime.clock import Clock, SystemClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.desk import Desk
from orchestrator.runtime.messages import ArchiveBatch
from orchestrator.runtime.queue import JobQueue, consumer_name
from orchestrator.runtime.services import Runtime
from orchestrator.steps.lanes import Lanes
from orchestrator.steps.rules import learned_rules
from orchestrator.store.client import is_cluster, probe_client, redis_client, wait_until_answers
from orchestrator.store.delivery_ledger import RedisDeliveryLedger
from orchestrator.store.embedded import EmbeddedRedis
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Workspace

log = logging.getLogger("baton")


@dataclass
class App:
    """Everything one process runs on."""

    settings: Settings
    workspace: Workspace
    redis: Redis
    embedded: EmbeddedRedis | None
    connectors: Connectors
    runtime: Runtime
    conversation: Conversation
    store_label: str
    gateways: Mapping[str, ChatGateway]
    capacity: RedisCapacity
    """Whether Redis takes new work now (readiness, the web door, the page about it)."""
    history: HistoryStore | None = None
    """Where history moved out of Redis is kept (and read)."""
    others: list[Connectors] = field(default_factory=list)
    """The connectors of the tenants' own workspace files (`BATON_WORKSPACES_DIR`)."""
    platforms: tuple[Platform, ...] = ()
    """The chat platforms the composition root wired in (their gateways, job kinds and web
    surfaces)."""

    async def close(self) -> None:
        for connectors in (self.connectors, *self.others):
            await connectors.close()
        if self.history is not None:
            await self.history.close()
        await self.capacity.close()
        await self.redis.aclose()
        if self.embedded is not None:
            await self.embedded.stop()


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
            f":{parts.port}" if parts.port else ""
        )
        return urlunsplit(parts._replace(netloc=netloc))
    return url


async def connect_redis(
    settings: Settings, *, worker: bool = False, wait: bool = False
) -> tuple[Redis, EmbeddedRedis | None, str]:
    """The Redis server in `REDIS_URL`, or the embedded one with its state on disk.
    `worker`: a worker process's client (`redis_client`). `wait`: a long-running process
    waits for a server that does not answer yet (it may be starting beside it); a one-shot
    command says so at once instead."""
    if settings.redis_url:
        label = f"Redis at {redact(settings.redis_url)}"
        if wait:
            await wait_until_answers(settings.redis_url, label)
        redis = redis_client(settings.redis_url, worker=worker)
        try:
            await redis.ping()
        except (
            RedisConnectionError,
            RedisTimeoutError,
            OSError,
            RedisClusterUnreachableError,
        ) as error:
            await redis.aclose()
            raise RedisUnreachable(label, error) from None
        return redis, None, label
    embedded = EmbeddedRedis(settings.state_dir / "redis")
    url = await embedded.start()
    label = f"embedded Redis (state in {embedded.directory}; set REDIS_URL to use a server)"
    return redis_client(url, worker=worker), embedded, label


class RedisUnreachable(BatonError):
    """A one-shot command found no Redis answering; the message says what to do."""

    def __init__(self, label: str, error: Exception) -> None:
        super().__init__(
            f"{label} does not answer ({error}): start it, or point REDIS_URL at a running "
            "server (unset, Baton uses its embedded one)"
        )


def build_pager(settings: Settings) -> Pagers:
    """Every pager the settings configure (none: incidents are only posted in chat)."""
    pagers: list[WebhookPager | PagerDutyPager] = []
    allowed = settings.pager_allowed()
    if settings.pager_webhook_url:
        pagers.append(WebhookPager(settings.pager_webhook_url, allow_private=allowed))
    if settings.pagerduty_routing_key:
        pagers.append(
            PagerDutyPager(
                settings.pagerduty_routing_key,
                settings.pagerduty_events_url,
                runbook_base=settings.runbook_url,
                allow_private=allowed,
            )
        )
    return Pagers(pagers)


def intelligence(settings: Settings, ctx: Context) -> dict[str, Any]:
    """The LLM lane's planner, drafter and interpreter when `BATON_LLM` is set; else none."""
    if not settings.llm:
        log.info("no LLM configured: parser, playbooks and templates")
        return {}
    # Imported here: langchain is a third of a process's start-up, and only the LLM lane
    # needs it.
    from orchestrator.llm.lane import build_lane
    from orchestrator.llm.model import ModelSettings, build_chat_model

    model = build_chat_model(
        ModelSettings(
            settings.llm,
            base_url=settings.llm_base_url,
            timeout_s=settings.llm_timeout_s,
            max_output_tokens=settings.llm_max_output_tokens,
        )
    )
    lane = build_lane(
        ctx, model, daily_tokens=settings.llm_daily_tokens, explain_intake_outage=True
    )
    where = f" at {redact(settings.llm_base_url)}" if settings.llm_base_url else ""
    log.info("LLM lane: %s%s (falls back to playbooks and templates)", settings.llm, where)
    return {
        "planner": lane.planner,
        "lanes": Lanes(drafter=lane.drafter),
        "interpreter": lane.interpreter,
    }


async def bootstrap(
    settings: Settings,
    gateways: Mapping[str, ChatGateway],
    *,
    platforms: Sequence[Platform] = (),
    clock: Clock | None = None,
    env: Mapping[str, str] | None = None,
    name: str = "baton",
    worker_only: bool = False,
    wait_for_redis: bool = False,
) -> App:
    """Wire one process. `worker_only` (`baton worker`): nothing but jobs runs on its
    event loop, so SQLite connections are queried there instead of in a thread, and its
    Redis commands carry no timer each (`redis_client`). `wait_for_redis`: a serving
    process waits for its Redis server to answer (see `connect_redis`). `platforms`: the
    chat platforms whose gateways deliver notices and whose job kinds run here; `gateways`
    are added to theirs (the console's, a test's)."""
    files = load_workspaces(settings.workspace_file, settings.workspaces_dir)
    workspace = files.default
    sealing = audit_keys(settings)
    redis, embedded, label = await connect_redis(settings, worker=worker_only, wait=wait_for_redis)
    tagged = bool(settings.redis_url) and is_cluster(str(settings.redis_url))
    store = RedisStore(redis, Keys(settings.key_prefix, tagged=tagged), sealing)
    connectors = connectors_by_file(
        files, env, RedisDeliveryLedger(redis, store.keys.prefix), worker_only
    )
    ctx = Context(
        store=store,
        queue=JobQueue(redis, store.keys),
        clock=clock or SystemClock(),
        workspace_of=files.of,
        connectors_of=lambda tenant: connectors[id(files.of(tenant))],
    )
    ctx.extra_rules_of = learned_rules(store, ctx.clock)
    all_gateways = {**build_gateways(platforms, settings, store, ctx.clock), **gateways}
    notifier = ChatNotifier(store, all_gateways, ctx.workspace_of)
    runtime = Runtime(
        ctx,
        notifier,
        name=consumer_name(name),
        pager=build_pager(settings),
        **intelligence(settings, ctx),
    )
    history = open_history(settings, runtime)
    runtime.set_visibility(settings.worker_visibility_s)
    runtime.worker.grace_s = settings.shutdown_grace_s
    runtime.worker.give_up_s = settings.outage_give_up_h * 3600
    runtime.worker.slots = settings.worker_slots
    runtime.worker.in_flight = settings.worker_in_flight
    await runtime.start()
    app = App(
        settings=settings,
        workspace=workspace,
        redis=redis,
        embedded=embedded,
        connectors=connectors[id(workspace)],
        others=[c for key, c in connectors.items() if key != id(workspace)],
        runtime=runtime,
        conversation=Conversation(Desk(runtime, names=notifier.names)),
        store_label=label,
        gateways=all_gateways,
        capacity=RedisCapacity(
            probe_client(embedded.url if embedded else str(settings.redis_url)),
            settings.key_prefix,
            runtime.pager,
        ),
        history=history,
        platforms=tuple(platforms),
    )
    for platform in platforms:
        for message, handler in platform.job_kinds(app).items():
            runtime.register(message, handler)
    return app


def connectors_by_file(
    files: WorkspaceFiles,
    env: Mapping[str, str] | None,
    ledger: RedisDeliveryLedger,
    sqlite_on_loop: bool,
) -> dict[int, Connectors]:
    """One set of connectors per workspace file (keyed by the loaded file's identity)."""
    environ = dict(os.environ) if env is None else env
    return {
        id(workspace): Connectors(workspace, environ, ledger=ledger, sqlite_on_loop=sqlite_on_loop)
        for workspace in files.distinct()
    }


def open_history(settings: Settings, runtime: Runtime) -> HistoryStore:
    """The history store: readers find moved records there, and workers run the archive."""
    history = HistoryStore(settings.history_url or default_url(settings.state_dir))
    kept = retention(
        settings.history_live_audit,
        settings.history_live_measurements,
        settings.history_keep,
        settings.history_batch,
    )
    ctx = runtime.ctx
    ctx.store.history = history
    runtime.register(ArchiveBatch, Archiver(ctx.store, history, ctx.clock, kept).handle)
    return history
