"""Signed events through `POST /hooks/<source>` on a real aiohttp server (port 0)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot import hooks
from bot.bootstrap import App, bootstrap
from bot.demo.simulation import Business
from bot.web import build_web_app
from config.settings import DEMO_WORKSPACE, Settings
from handlers.cards import Click, Inbound
from orchestrator.connectors.webhook import signature
from orchestrator.models import CaseStatus, ConversationRef
from orchestrator.runtime.clock import ManualClock
from orchestrator.store.keys import Keys
from tests.cases.conftest import TICKETS
from tests.conftest import START
from tests.fakes import RecordingGateway

SECRET = "s3cret-for-tickets"
CHANNEL = ConversationRef(platform="test", workspace="T1", channel="C1")


@dataclass
class Served:
    app: App
    url: str
    gateway: RecordingGateway

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/hooks/support_tickets", data=body, headers=headers) as r,
        ):
            return r.status, await r.json()

    async def cases(self) -> int:
        keys, redis = self.app.runtime.ctx.keys, self.app.redis
        return len([k async for k in redis.scan_iter(match=keys.case("*"))])


@pytest.fixture
async def served(
    redis_url: str, keys: Keys, business: Business, tmp_path: Path
) -> AsyncIterator[Served]:
    settings = Settings(
        redis_url=redis_url,
        key_prefix=keys.prefix,
        workspace_file=DEMO_WORKSPACE,
        state_dir=tmp_path / "state",
    )
    gateway = RecordingGateway()
    env = {"BATON_DEMO_DB": str(business.path), "BATON_TICKETS_HOOK_SECRET": SECRET}
    app = await bootstrap(settings, {"test": gateway}, clock=ManualClock(START), env=env)
    application, _ = await build_web_app(app, surfaces=[hooks.mount])
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Served(app, f"http://127.0.0.1:{port}", gateway)
    finally:
        await runner.cleanup()
        await app.close()


async def _confirm_tickets_outcome(served: Served) -> None:
    conversation, runtime = served.app.conversation, served.app.runtime
    await conversation.on_message(Inbound(CHANNEL, "olivia", TICKETS))
    await runtime.drain()
    session = served.gateway.buttons("confirm")[-1]
    await conversation.on_click(Click(CHANNEL, "olivia", "confirm", session))
    await runtime.drain()


def _event(ticket: str) -> bytes:
    return json.dumps({"ticket_id": ticket, "subject": "Cannot log in"}).encode()


def _responses(business: Business, ticket: str) -> int:
    with closing(sqlite3.connect(business.path)) as db:
        query = "SELECT COUNT(*) FROM ticket_responses WHERE ticket = ?"
        return int(db.execute(query, (ticket,)).fetchone()[0])


async def test_a_signed_event_opens_one_case_even_when_delivered_twice(
    served: Served, business: Business
) -> None:
    await _confirm_tickets_outcome(served)
    body = _event("T-100")
    headers = {"X-Baton-Signature": signature(SECRET, body)}
    assert await served.post(body, headers) == (
        202,
        {"duplicate": False, "case": "support_tickets:T-100"},
    )
    assert await served.post(body, headers) == (200, {"duplicate": True, "case": None})
    await served.app.runtime.drain()
    case = await served.app.runtime.ctx.store.case("support_tickets:T-100")
    assert case.status is CaseStatus.DONE
    assert _responses(business, "T-100") == 1
    assert await served.cases() == 1


async def test_unsigned_and_forged_events_are_refused_and_leave_nothing(served: Served) -> None:
    await _confirm_tickets_outcome(served)
    body = _event("T-200")
    forged = {"X-Baton-Signature": signature("not-the-secret", body)}
    tampered = {"X-Baton-Signature": signature(SECRET, _event("T-201"))}
    for headers in ({}, forged, tampered, {"X-Baton-Signature": "sha256=00"}):
        status, answer = await served.post(body, headers)
        assert (status, answer) == (401, {"error": "bad signature"})
    assert await served.cases() == 0
    assert await served.app.runtime.drain() == 0  # nothing was queued either


async def test_an_event_without_its_id_or_for_nobody_is_not_a_case(served: Served) -> None:
    body = _event("T-300")
    headers = {"X-Baton-Signature": signature(SECRET, body)}
    assert await served.post(body, headers) == (202, {"duplicate": False, "case": None})
    await _confirm_tickets_outcome(served)
    bad = json.dumps({"subject": "no id"}).encode()
    status, _ = await served.post(bad, {"X-Baton-Signature": signature(SECRET, bad)})
    assert status == 400
    assert await served.cases() == 0


async def test_an_event_whose_id_cannot_name_a_case_is_refused_at_the_door(
    served: Served,
) -> None:
    """The id travels on as Redis keys and as the Idempotency-Key header of the case's
    webhook steps: one the HTTP client would refuse is refused here, before any case."""
    await _confirm_tickets_outcome(served)
    bodies = [
        json.dumps({"ticket_id": ticket}).encode()
        for ticket in ("T\r\nX-Injected: 1", "T\x01", "T 1", "T-€", "T" * 129, True, 1.5, "")
    ]
    bodies.append(b'{"ticket_id": "T-1", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")
    for body in bodies:
        status, _ = await served.post(body, {"X-Baton-Signature": signature(SECRET, body)})
        assert status == 400, body[:40]
    assert await served.cases() == 0
    number = json.dumps({"ticket_id": 42}).encode()
    assert await served.post(number, {"X-Baton-Signature": signature(SECRET, number)}) == (
        202,
        {"duplicate": False, "case": "support_tickets:42"},
    )
