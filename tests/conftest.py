"""Shared fixtures. The store runs on a real Redis server: `REDIS_URL` when set (each test
gets its own key prefix and cleans only that), otherwise an embedded one per session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from handlers.cards import Click, Inbound, Reply
from handlers.conversation import Conversation
from handlers.notifier import ChatNotifier
from orchestrator.connectors import Connectors
from orchestrator.models import ConversationRef
from orchestrator.runtime.clock import ManualClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.desk import Desk
from orchestrator.runtime.queue import JobQueue
from orchestrator.runtime.services import Runtime
from orchestrator.steps.rules import learned_rules
from orchestrator.store.client import redis_client
from orchestrator.store.embedded import EmbeddedRedis
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Workspace
from tests.fakes import RecordingGateway
from tests.redis_cluster import LocalCluster, cluster_binary

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
CHANNEL = ConversationRef(platform="test", workspace="T1", channel="C1")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    import asyncio

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = asyncio.run(server.start())
    yield url
    asyncio.run(server.stop())


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local 3-master Redis Cluster, one per test session (`tests/redis_cluster.py`)."""
    if cluster_binary() is None:
        pytest.skip("no redis-server on this machine to start a cluster with")
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    yield cluster.start()
    cluster.stop()


@pytest.fixture
async def cluster_redis(cluster_url: str) -> AsyncIterator[Redis]:
    """A client of the cluster, as Baton opens one (`redis+cluster://`)."""
    client = redis_client(cluster_url)
    yield client
    await client.aclose()


@pytest.fixture
async def cluster_keys(cluster_redis: Redis) -> AsyncIterator[Keys]:
    """Keys with hash tags under a prefix of the test's own, cleaned after it."""
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    yield Keys(prefix, tagged=True)
    async for key in cluster_redis.scan_iter(match=f"{prefix}:*", count=1000):
        await cluster_redis.delete(key)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def keys(redis: Redis) -> AsyncIterator[Keys]:
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    yield Keys(prefix)
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)


@pytest.fixture
def store(redis: Redis, keys: Keys) -> RedisStore:
    return RedisStore(redis, keys)


@pytest.fixture
async def queue(redis: Redis, keys: Keys) -> AsyncIterator[JobQueue]:
    """The job stream under `keys`, with its consumer group."""
    jobs = JobQueue(redis, keys)
    await jobs.ensure_group()
    yield jobs


@pytest.fixture(scope="session")
def workspace() -> Workspace:
    return load_workspace(DEMO_WORKSPACE)


@pytest.fixture(scope="session")
def crm_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    business = Business(tmp_path_factory.mktemp("crm") / "crm.sqlite3")
    business.create()
    return business.path


@pytest.fixture
def business(crm_template: Path, tmp_path: Path) -> Business:
    path = tmp_path / "crm.sqlite3"
    shutil.copy(crm_template, path)
    return Business(path)


@dataclass
class Harness:
    """Baton wired as a process would wire it, with a manual clock and a recording gateway."""

    runtime: Runtime
    conversation: Conversation
    gateway: RecordingGateway
    clock: ManualClock
    business: Business
    connectors: Connectors

    @property
    def store(self) -> RedisStore:
        return self.runtime.ctx.store

    async def say(self, user: str, text: str, channel: ConversationRef = CHANNEL) -> list[Reply]:
        replies = await self.conversation.on_message(Inbound(channel, user, text))
        await self.runtime.drain()
        return replies

    async def click(
        self, user: str, action: str, value: str, reason: str = "", delivery_id: str | None = None
    ) -> list[Reply]:
        replies = await self.conversation.on_click(
            Click(CHANNEL, user, action, value, reason, delivery_id=delivery_id)
        )
        await self.runtime.drain()
        return replies

    async def state(self, user: str, text: str, *answers: str) -> str:
        """State an outcome, answer the questions, confirm; returns the outcome id."""
        await self.say(user, text)
        for answer in answers:
            await self.say(user, answer)
        session = self.gateway.buttons("confirm")[-1]
        await self.click(user, "confirm", session)
        return "o" + session[1:]


def build_harness(
    redis: Redis,
    keys: Keys,
    workspace: Workspace,
    business: Business,
    clock: ManualClock | None = None,
    wiring: Callable[[Context], dict[str, Any]] | None = None,
) -> Harness:
    clock = clock or ManualClock(START)
    store = RedisStore(redis, keys)
    connectors = Connectors(workspace, {"BATON_DEMO_DB": str(business.path)})
    ctx = Context(
        store=store,
        queue=JobQueue(redis, keys),
        clock=clock,
        workspace_of=lambda tenant: workspace,
        connectors_of=lambda tenant: connectors,
        extra_rules_of=learned_rules(store, clock),
    )
    gateway = RecordingGateway()
    notifier = ChatNotifier(store, {"test": gateway}, ctx.workspace_of)
    runtime = Runtime(
        ctx,
        notifier,
        **(wiring(ctx) if wiring else {}),  # planner, lanes, interpreter
    )
    conversation = Conversation(Desk(runtime, names=notifier.names))
    return Harness(runtime, conversation, gateway, clock, business, connectors)


@pytest.fixture
async def harness(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    built = build_harness(redis, keys, workspace, business)
    await built.runtime.start()
    yield built
    await built.connectors.close()


Start = Callable[..., Awaitable[Harness]]
"""`await start(workspace, wiring=...)`: a started harness, closed when the test ends."""


@pytest.fixture
async def started(redis: Redis, keys: Keys, business: Business) -> AsyncIterator[Start]:
    """A factory of started harnesses on one Redis and business, for tests that need several
    (or one per workspace shape); each is closed when the test ends."""
    built: list[Harness] = []

    async def start(workspace: Workspace, **options: Any) -> Harness:
        harness = build_harness(redis, keys, workspace, business, **options)
        await harness.runtime.start()
        built.append(harness)
        return harness

    yield start
    for harness in built:
        await harness.connectors.close()
