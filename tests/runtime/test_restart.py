"""Restarting `baton run` in the middle of an outcome, with the embedded store, loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from bot.console import CONSOLE
from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from handlers.cards import Click, Inbound
from handlers.conversation import Conversation
from handlers.notifier import ChatNotifier
from orchestrator.connectors import Connectors
from orchestrator.models import ApprovalStatus, OutcomeStatus
from orchestrator.runtime.clock import SystemClock
from orchestrator.runtime.context import Context
from orchestrator.runtime.desk import Desk
from orchestrator.runtime.queue import JobQueue
from orchestrator.runtime.services import Runtime
from orchestrator.store.embedded import EmbeddedRedis
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Workspace
from tests.fakes import RecordingGateway


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(state: Path, crm: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        BATON_STATE_DIR=str(state),
        BATON_WORKSPACE=str(DEMO_WORKSPACE),
        BATON_DEMO_DB=str(crm),
        PORT=str(free_port()),
        BATON_ENV="development",
    )
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def connect(state: Path) -> Redis:
    url = EmbeddedRedis(state / "redis").url
    redis = Redis.from_url(url)

    async def answers() -> bool:
        try:
            return bool(await redis.ping())
        except Exception:  # noqa: BLE001 - not up yet
            return False

    await eventually(answers)
    return redis


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err.decode()[-2000:]


def driver(redis: Redis, workspace: Workspace, crm: Path) -> tuple[Conversation, RedisStore]:
    """Talks to the running process through Redis, as a web process would; runs no jobs."""
    store = RedisStore(redis, Keys("baton"))
    connectors = Connectors(workspace, {"BATON_DEMO_DB": str(crm)})
    ctx = Context(
        store=store,
        queue=JobQueue(redis, store.keys),
        clock=SystemClock(),
        workspace_of=lambda t: workspace,
        connectors_of=lambda t: connectors,
    )
    notifier = ChatNotifier(store, {"console": RecordingGateway()}, ctx.workspace_of)
    return Conversation(Desk(Runtime(ctx, notifier), names=notifier.names)), store


async def test_restart_in_the_middle_of_an_outcome_loses_nothing(
    tmp_path: Path, workspace: Workspace, business: Business
) -> None:
    state = tmp_path / "state"
    process = start(state, business.path)
    try:
        redis = await connect(state)
        conversation, store = driver(redis, workspace, business.path)
        await conversation.on_message(Inbound(CONSOLE, "olivia", "cut churn by 2 points by Q1"))

        async def statement_ready() -> bool:
            session = await conversation.desk.session("i1")
            return session is not None and session.ready

        await eventually(statement_ready)
        await conversation.on_click(Click(CONSOLE, "olivia", "confirm", "i1"))

        async def approval_requested() -> bool:
            return bool(await store.pending_approvals("local"))

        await eventually(approval_requested)
        approval = (await store.pending_approvals("local"))[0]
        trail_before = len(await store.audit_chain("local"))
        await redis.aclose()
        stop(process)

        process = start(state, business.path)
        redis = await connect(state)
        conversation, store = driver(redis, workspace, business.path)
        assert (await store.outcome("o1")).status is OutcomeStatus.ACTIVE
        assert [a.id for a in await store.pending_approvals("local")] == [approval.id]
        assert len(await store.audit_chain("local")) >= trail_before
        await conversation.on_click(Click(CONSOLE, "alice", "approve", approval.id))

        async def sent() -> bool:
            return (await store.step(approval.step_id)).status.value == "succeeded"

        await eventually(sent)
        assert (await store.approval(approval.id)).status is ApprovalStatus.APPROVED
        with sqlite3.connect(business.path) as db:
            emailed = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        assert emailed == (await store.step(approval.step_id)).audience > 0
        await redis.aclose()
    finally:
        if process.poll() is None:
            stop(process)
