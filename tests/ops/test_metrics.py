"""Health, readiness and Prometheus metrics of `baton web`, read from Redis at scrape time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bot.bootstrap import App, bootstrap
from bot.web import build_web_app
from config.settings import Settings
from orchestrator.llm.usage import TokenLedger, Usage
from orchestrator.models import ApprovalStatus
from orchestrator.notify.incidents import Incident
from orchestrator.runtime.messages import Page, Tick
from orchestrator.store.keys import Keys
from tests.conftest import START, Harness
from tests.fakes import RecordingGateway

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
Client = TestClient[web.Request, web.Application]


@pytest.fixture
def settings(redis_url: str, keys: Keys, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_url, key_prefix=keys.prefix, state_dir=tmp_path)


async def serve(settings: Settings) -> AsyncIterator[tuple[Client, App]]:
    baton = await bootstrap(settings, {"test": RecordingGateway()}, env={})
    application, _ = await build_web_app(baton, [])
    client: Client = TestClient(TestServer(application))
    await client.start_server()
    try:
        yield client, baton
    finally:
        await client.close()
        await baton.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def story(harness: Harness) -> str:
    """An outcome, a rejection, two weeks with a flat metric (off track, so a new plan),
    and an approval of that plan: something for every metric."""
    outcome_id = await harness.state("olivia", STATEMENT)
    harness.clock.advance(timedelta(minutes=30))
    await harness.click("bob", "reject", harness.gateway.buttons("approve")[-1], "not now")
    harness.clock.advance(timedelta(days=15))
    await harness.runtime.drain()
    pending = await harness.store.pending_approvals("T1")
    harness.clock.advance(timedelta(hours=2))
    await harness.click("alice", "approve", pending[0].id)
    return outcome_id


async def test_metrics_report_the_work_done(harness: Harness, settings: Settings) -> None:
    outcome_id = await story(harness)
    await TokenLedger(harness.store).record(
        Usage(120, 30), workspace="T1", outcome_id=outcome_id, now=START
    )
    incident = Incident(
        kind="metric_source_down",
        workspace="T1",
        outcome_id=outcome_id,
        what="down",
        dedup_key="metric_source_down:o1",
        at=START,
    )
    await harness.runtime.ctx.queue.enqueue(Page(incident=incident))
    await harness.runtime.drain()
    steps = await harness.store.steps(outcome_id)
    approvals = [
        await harness.store.approval("a" + s.id[1:])
        for s in steps
        if s.decision.startswith("approve")
    ]
    decided = [
        a for a in approvals if a.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
    ]
    async for client, _ in serve(settings):
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        got = samples(await response.text())
    assert got[("baton_ticks_total", ())] >= 2
    for lane, status in {(s.lane.value, s.status.value) for s in steps}:
        expected = sum(1 for s in steps if (s.lane.value, s.status.value) == (lane, status))
        assert got[("baton_steps", (("lane", lane), ("status", status)))] == expected
    pending = sum(1 for a in approvals if a.status is ApprovalStatus.PENDING)
    assert got[("baton_approvals_pending", ())] == pending
    assert got[("baton_approval_decision_seconds_count", ())] == len(decided) >= 2
    # bob decided after 30 minutes, alice two hours after her request at the earliest.
    assert got[("baton_approval_decision_seconds_bucket", (("le", "900"),))] == 0
    assert got[("baton_approval_decision_seconds_bucket", (("le", "3600"),))] == 1
    assert got[("baton_decision_latency_seconds_count", ())] == 1  # off track, planned at once
    assert got[("baton_decision_latency_seconds_bucket", (("le", "60"),))] == 1
    assert got[("baton_llm_calls_total", ())] == 1
    assert got[("baton_llm_tokens_total", (("direction", "input"),))] == 120
    assert got[("baton_llm_tokens_total", (("direction", "output"),))] == 30
    assert got[("baton_job_backlog", ())] == 0
    assert got[("baton_dead_letters", ())] == 0
    assert got[("baton_incidents_open", ())] == 1


async def test_readiness_checks_redis_not_the_shared_backlog(
    harness: Harness, settings: Settings
) -> None:
    """Every replica sees the same backlog: failing on it would take them all out at once."""
    async for client, baton in serve(settings):
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/readyz")).status == 200
        queue = baton.runtime.ctx.queue
        await asyncio.gather(*(queue.enqueue_gathered(Tick(outcome=f"o{n}")) for n in range(1_200)))
        for path in ("/readyz", "/healthz?ready=1"):
            response = await client.get(path)
            assert response.status == 200
            assert (await response.json()) == {"status": "ready", "backlog": 1_200}
        live = baton.redis
        baton.redis = Redis.from_url("redis://127.0.0.1:1/0")
        try:
            response = await client.get("/readyz")
            assert response.status == 503
            assert "redis unavailable" in (await response.json())["reason"]
        finally:
            await baton.redis.aclose()
            baton.redis = live
