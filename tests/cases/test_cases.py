"""Cases from a SQL source: intake by cursor, exactly once, conditional approval, the SLA."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.cases.sources import poll
from orchestrator.cases.standing import measure
from orchestrator.models import CaseStatus, OutcomeKind
from tests.cases.conftest import TABLES, audit_actions, next_poll, sign, stand
from tests.conftest import Harness

CLAUSE = "Clause 14: payment due in 90 days"


async def test_new_rows_become_cases_done_without_a_human(harness: Harness) -> None:
    outcome_id = await stand(harness)
    outcome = await harness.store.outcome(outcome_id)
    assert outcome.kind is OutcomeKind.STANDING and outcome.sla_s == 3_600
    first, second = sign(harness, "Acme Ltd"), sign(harness, "Beta Co")
    sent_before = len(harness.gateway.sent)
    await next_poll(harness)
    for number in (first, second):
        case = await harness.store.case(f"contracts:{number}")
        assert case.status is CaseStatus.DONE and case.position == 4
        assert all(state.step_id is None for state in case.steps)
        assert [harness.business.count(t, number) for t in TABLES] == [1, 1, 1, 1]
    # Humans see only the exceptions: nothing was posted for two routine cases.
    assert len(harness.gateway.sent) == sent_before
    stats = await measure(harness.runtime.ctx, outcome)
    assert (stats.done, stats.within, stats.share) == (2, 2, 100.0)


async def test_a_replayed_cursor_opens_no_case_twice(harness: Harness) -> None:
    outcome_id = await stand(harness)
    number = sign(harness, "Acme Ltd")
    await next_poll(harness)
    ctx = harness.runtime.ctx
    await ctx.store.redis.delete(ctx.keys.case_cursor("T1", "contracts"))  # replay from 0
    assert await poll(ctx, harness.runtime.cases, "T1", "contracts", None) == 0
    await harness.runtime.drain()
    assert [harness.business.count(t, number) for t in TABLES] == [1, 1, 1, 1]
    assert await audit_actions(harness, f"case:contracts:{number}") == [
        "case.received", "case.step", "case.step", "case.step", "case.step", "case.done",
    ]  # fmt: skip
    stats = await measure(ctx, await harness.store.outcome(outcome_id))
    assert stats.done == 1


async def test_only_the_non_standard_contract_waits_for_a_person(harness: Harness) -> None:
    await stand(harness)
    plain, special = sign(harness, "Acme Ltd"), sign(harness, "Cobalt Freight", CLAUSE)
    await next_poll(harness)
    assert (await harness.store.case(f"contracts:{plain}")).status is CaseStatus.DONE
    waiting = await harness.store.case(f"contracts:{special}")
    assert waiting.status is CaseStatus.AWAITING_APPROVAL and waiting.position == 3
    assert harness.business.count("contract_terms", special) == 0
    approval = harness.gateway.buttons("approve")
    assert len(approval) == 1
    await harness.click("alice", "approve", approval[0])
    done = await harness.store.case(f"contracts:{special}")
    assert done.status is CaseStatus.DONE
    assert done.steps[3].step_id is not None and done.steps[3].status == "succeeded"
    assert harness.business.count("contract_terms", special) == 1


async def test_a_rejected_step_stops_its_case_and_says_so(harness: Harness) -> None:
    outcome_id = await stand(harness)
    special = sign(harness, "Cobalt Freight", CLAUSE)
    await next_poll(harness)
    await harness.click("bob", "reject", harness.gateway.buttons("approve")[0], "not these terms")
    case = await harness.store.case(f"contracts:{special}")
    assert case.status is CaseStatus.REJECTED
    assert harness.business.count("contract_terms", special) == 0
    assert any(f"Case contracts:{special} stopped" in t for t in harness.gateway.titles())
    stats = await measure(harness.runtime.ctx, await harness.store.outcome(outcome_id))
    assert (stats.failed, stats.share) == (1, 0.0)


async def test_a_case_about_to_breach_is_reminded_escalated_paged_then_reported(
    harness: Harness,
) -> None:
    outcome_id = await stand(harness)
    special = sign(harness, "Cobalt Freight", CLAUSE)
    await next_poll(harness)
    subject = f"case:contracts:{special}"
    harness.clock.advance(timedelta(minutes=29))  # half of the hour has gone
    await harness.runtime.drain()
    assert any("halfway to its SLA" in t for t in harness.gateway.titles())
    harness.clock.advance(timedelta(minutes=18))  # 80%: on-call is paged
    await harness.runtime.drain()
    assert any("case_sla_at_risk" in t for t in harness.gateway.titles())
    assert await harness.store.redis.exists(
        harness.store.keys.flag(f"paged:case:contracts:{special}")
    )
    outcome = await harness.store.outcome(outcome_id)
    assert (await measure(harness.runtime.ctx, outcome)).share == 100.0  # not overdue yet
    harness.clock.advance(timedelta(minutes=13))  # past due
    await harness.runtime.drain()
    assert any("case_sla_breached" in t for t in harness.gateway.titles())
    stats = await measure(harness.runtime.ctx, outcome)
    assert (stats.overdue, stats.share) == (1, 0.0)
    assert [a for a in await audit_actions(harness, subject) if a.startswith("case.sla")] == [
        "case.sla_remind", "case.sla_escalate", "case.sla_breach",
    ]  # fmt: skip
    # Approved late: the case is done (outside its SLA) and its pages are resolved.
    await harness.click("alice", "approve", harness.gateway.buttons("approve")[0])
    assert (await harness.store.case(f"contracts:{special}")).status is CaseStatus.DONE
    stats = await measure(harness.runtime.ctx, outcome)
    assert (stats.done, stats.within, stats.share) == (1, 0, 0.0)
    assert not await harness.store.redis.exists(
        harness.store.keys.flag(f"paged:case:contracts:{special}")
    )


async def test_a_case_done_in_time_never_climbs_the_ladder(harness: Harness) -> None:
    await stand(harness)
    number = sign(harness, "Acme Ltd")
    await next_poll(harness)
    harness.clock.advance(timedelta(hours=2))
    await harness.runtime.drain()
    actions = await audit_actions(harness, f"case:contracts:{number}")
    assert not [a for a in actions if a.startswith("case.sla")]


async def test_the_progress_message_shows_the_derived_metric(harness: Harness) -> None:
    await stand(harness)
    sign(harness, "Acme Ltd")
    await next_poll(harness)
    harness.clock.advance(timedelta(hours=1))  # the next measurement
    await harness.runtime.drain()
    progress = [s.current for s in harness.gateway.sent if s.current.title.startswith("Outcome")]
    text = progress[-1].text()
    assert "100.0% within SLA" in text and "1 done (1 within SLA)" in text
    assert "95.0% of cases within 1 h" in text


async def test_a_target_on_a_derived_metric_is_refused_not_crashed(harness: Harness) -> None:
    await harness.say("olivia", "Raise onboarding sla to 99% by 31 March")
    assert any("derived from contracts cases" in t for t in harness.gateway.titles())
    assert await harness.store.redis.xlen(harness.store.keys.dead_letters()) == 0
