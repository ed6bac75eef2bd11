"""A standing outcome shows up in status (with its chart) and in the weekly digest like a
target outcome does."""

from __future__ import annotations

from orchestrator.runtime.messages import PostDigest
from orchestrator.runtime.scheduler import CRON_JOBS, ClockService
from orchestrator.store.leader_lock import LeaderLock
from tests.cases.conftest import next_poll, sign, stand
from tests.conftest import Harness

PNG = b"\x89PNG\r\n\x1a\n"


async def test_status_and_digest_of_a_standing_outcome(harness: Harness) -> None:
    outcome_id = await stand(harness)
    sign(harness, "Acme Ltd")
    sign(harness, "Borealis GmbH")
    await next_poll(harness)
    status = (await harness.say("olivia", f"status {outcome_id}"))[0].card
    assert status.title.startswith(f"Outcome {outcome_id}")
    assert any("within SLA" in value for _, value in status.fields)
    assert status.image_png is not None and status.image_png.startswith(PNG)
    ctx = harness.runtime.ctx
    job = next(j for j in CRON_JOBS if j.message is PostDigest)
    clock = ClockService(
        ctx.store,
        ctx.queue,
        harness.clock,
        LeaderLock(ctx.store.redis, ctx.keys.flag("leader"), "clock-a"),
        cron_jobs=[job],
    )
    clock.leading.set()
    assert await clock.fire(job)
    sent_before = len(harness.gateway.sent)
    await harness.runtime.drain()
    titles = [s.card.title for s in harness.gateway.sent[sent_before:]]
    assert titles[0] == "Weekly digest: 1 active outcome(s)"
    assert any(t.startswith(f"Weekly digest · outcome {outcome_id}") for t in titles)
    title, png = harness.gateway.images[-1]
    assert png.startswith(PNG) and outcome_id in title
