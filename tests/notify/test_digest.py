"""The weekly digest: fired by the clock's cron job, posted by a worker, per conversation."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.runtime.messages import PostDigest
from orchestrator.runtime.scheduler import CRON_JOBS, ClockService
from orchestrator.store.keys import Keys
from orchestrator.store.leader_lock import LeaderLock
from orchestrator.workspace.catalog import Workspace
from tests.conftest import Harness, build_harness
from tests.fakes import RecordingGateway

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
PNG = b"\x89PNG\r\n\x1a\n"


async def a_week(harness: Harness) -> str:
    """An outcome whose week has: auto steps, one human approval, a measured effect, and a
    pending approval at the end."""
    outcome_id = await harness.state("olivia", STATEMENT)
    await harness.click("alice", "approve", harness.gateway.buttons("approve")[-1])
    for _ in range(6):
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    return outcome_id


async def test_cron_fires_and_a_worker_posts_the_digest(harness: Harness) -> None:
    outcome_id = await a_week(harness)
    job = next(j for j in CRON_JOBS if j.message is PostDigest)
    assert job.cron["day_of_week"] == "mon"
    ctx = harness.runtime.ctx
    lock = LeaderLock(ctx.store.redis, ctx.keys.flag("leader"), "clock-a")
    clock = ClockService(ctx.store, ctx.queue, harness.clock, lock, cron_jobs=[job])
    clock.leading.set()  # elected (the election itself is tested with the clock)
    assert await clock.fire(job)
    assert not await clock.fire(job)  # the same minute fires once, whichever clock fires
    sent_before = len(harness.gateway.sent)
    await harness.runtime.drain()
    digest = harness.gateway.sent[sent_before:]
    summary, card = digest[0].card, digest[1].card
    assert summary.title == "Weekly digest: 1 active outcome(s)"
    steps = await harness.store.steps(outcome_id)
    week_start = harness.clock.now() - timedelta(days=7)
    ran = [s for s in steps if s.finished_at and s.finished_at >= week_start]
    auto = [s for s in ran if s.decision.startswith("auto")]
    assert summary.lines == (
        f"This week {len(auto)} of {len(ran)} steps ran without a human decision "
        f"({len(auto) / len(ran):.0%}); people made 1 decision(s).",
    )
    assert card.title.startswith(f"Weekly digest · outcome {outcome_id}")
    measured = [s for s in steps if s.effect is not None]
    assert measured and all(f"{s.id} {s.action} {s.effect:+.2f}" in card.lines[0] for s in measured)
    assert card.progress is not None and any(name == "Now" for name, _ in card.fields)
    title, png = harness.gateway.images[-1]
    assert title == card.title and png.startswith(PNG)
    assert harness.gateway.alts[-1].startswith("Chart of ")  # the words go with the picture
    pending = await harness.store.pending_approvals("T1")
    if pending:
        assert any(pending[0].id in line for line in card.lines)
    # The week's approval decisions, as `approvals stats` says them, close the digest.
    decisions = digest[-1].card
    assert decisions.title.startswith("Approval decisions this week in ")
    assert "• @alice: 1 decisions (1 approved) · median 0 s, p90 0 s" in decisions.lines
    assert decisions.lines[1] == "0 escalated · 0 edited before approval"


async def test_no_active_outcomes_no_digest(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", STATEMENT)
    await harness.say("olivia", f"stop {outcome_id}")
    before = len(harness.gateway.sent)
    await harness.runtime.ctx.queue.enqueue(PostDigest())
    await harness.runtime.drain()
    assert len(harness.gateway.sent) == before


class NamingGateway(RecordingGateway):
    """A gateway whose platform names people, as Slack's users.info does."""

    async def user_name(self, *, workspace: str, user: str) -> str | None:
        return f"{user.title()} Example"


async def test_the_digest_names_people_as_their_platform_does(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> None:
    unnamed = workspace.model_copy(
        update={"people": workspace.people.model_copy(update={"names": {}})}
    )
    harness = build_harness(redis, keys, unnamed, business)
    gateway = NamingGateway()
    harness.gateway = gateway
    notifier = harness.runtime.notifier
    notifier.gateways["test"] = gateway  # type: ignore[attr-defined]
    notifier.names.lookups = {"test": gateway}  # type: ignore[attr-defined]
    await harness.runtime.start()
    try:
        await harness.state("olivia", STATEMENT)
        assert await harness.store.pending_approvals("T1"), "an approval is waiting"
        await harness.runtime.ctx.queue.enqueue(PostDigest())
        sent_before = len(gateway.sent)
        await harness.runtime.drain()
    finally:
        await harness.connectors.close()
    lines = [line for sent in gateway.sent[sent_before:] for line in sent.card.lines]
    assert any("@Alice Example, @Bob Example" in line for line in lines), lines
