"""Rejections become rules: offered after a rejection, accepted in one click, honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.models import Evaluation, Lane, Step, StepStatus, Verdict
from orchestrator.steps.planner import PlanInput, PlaybookPlanner
from orchestrator.steps.rules import RuleBook, derive
from orchestrator.workspace.catalog import Rule
from tests.conftest import Harness

STATEMENT = "Cut monthly churn by 2 points by end of Q1"
AT = datetime(2027, 1, 4, tzinfo=UTC)


def step(**fields: object) -> Step:
    base: dict[str, object] = {
        "id": "s9",
        "outcome_id": "o1",
        "workspace": "T1",
        "action": "offer_discount",
        "lane": Lane.SYSTEMS,
        "created_at": AT,
    }
    return Step.model_validate(base | fields)


def test_derivation_is_deterministic_and_readable() -> None:
    discount = derive(step(params={"percent": 20, "note": "x"}))
    assert discount.name == "forbid offer_discount when percent >= 20"
    assert (discount.decide, discount.param, discount.op, discount.value) == (
        "forbid",
        "percent",
        ">=",
        20.0,
    )
    emails = derive(step(action="send_winback", audience=50))
    assert emails.name == "always ask before send_winback reaching 50 or more customers"
    assert (emails.decide, emails.audience_over) == ("approve", 49)
    assert derive(step(action="tell_account_managers")).decide == "approve"
    assert derive(step(params={"percent": 20})) == discount


async def reject_discount(harness: Harness) -> str:
    """Reject what is asked, day by day, until the 20% discount is; returns its approval."""
    await harness.state("olivia", STATEMENT)
    for _ in range(30):
        for approval_id in harness.gateway.buttons("approve"):
            approval = await harness.store.approval(approval_id)
            replies = await harness.click("bob", "reject", approval_id, "too generous")
            if (await harness.store.step(approval.step_id)).action == "offer_discount":
                offer = replies[-1]
                assert offer.private and offer.card.title.endswith("percent >= 20")
                assert [(b.action, b.value) for b in offer.card.buttons] == [("rule", approval_id)]
                return approval_id
        harness.clock.advance(timedelta(days=1))
        harness.business.advance_day()
        await harness.runtime.drain()
    raise AssertionError("the discount was never proposed")


async def test_accepted_rule_is_listed_audited_and_honoured(harness: Harness) -> None:
    approval_id = await reject_discount(harness)
    refused = await harness.click("mallory", "rule", approval_id)
    assert refused[0].private and "Only the owner" in refused[0].card.title
    added = await harness.click("bob", "rule", approval_id)
    assert "Rule added by @bob" in added[0].card.title
    again = await harness.click("alice", "rule", approval_id)
    assert "already" in again[0].card.title
    listing = (await harness.say("olivia", "policies"))[0].card
    assert "1. forbid offer_discount when percent >= 20 (accepted by @bob" in "\n".join(
        listing.lines
    )
    outcome = await harness.store.outcome((await harness.store.approval(approval_id)).outcome_id)
    trail = await harness.store.audit_trail(outcome)
    assert [e.actor for e in trail if e.action == "policy.rule_added"] == ["bob"]
    # The planner honours it: a 25% discount play is skipped, the 10% one still runs.
    book = RuleBook(harness.store, harness.clock)
    assert [r.name for r in await book.rules("T1")] == ["forbid offer_discount when percent >= 20"]
    steps = await harness.store.steps(outcome.id)
    assert not any(
        s.action == "offer_discount" and s.params.get("percent", 0) >= 20
        for s in steps
        if s.status is not StepStatus.REJECTED
    )


async def test_removed_rule_stops_applying_and_only_governors_remove(harness: Harness) -> None:
    approval_id = await reject_discount(harness)
    await harness.click("bob", "rule", approval_id)
    refused = await harness.say("mallory", "policies remove 1")
    assert "Only the owner" in refused[0].card.title
    assert "no learned rule 2" in (await harness.say("olivia", "policies remove 2"))[0].card.title
    removed = await harness.say("olivia", "policies remove 1")
    assert removed[0].card.title.startswith("Rule removed by @olivia")
    assert await RuleBook(harness.store, harness.clock).rules("T1") == []
    listing = (await harness.say("olivia", "policies"))[0].card
    assert any("No learned rules yet" in line for line in listing.lines)


async def test_playbook_planner_skips_plays_a_rule_forbids(harness: Harness) -> None:
    outcome = await harness.store.outcome(await harness.state("olivia", STATEMENT))
    workspace = harness.runtime.ctx.workspace_of("T1")
    evaluation = Evaluation(value=8.0, expected=7.0, progress=0.0, verdict=Verdict.OFF_TRACK)

    async def plays(*rules: Rule) -> list[str]:
        plan = PlanInput(outcome, evaluation, [], workspace, AT, rules=rules)
        return [p.play for p in await PlaybookPlanner().propose(plan)][:1]

    assert await plays() == ["win_back"]
    forbid_sends = Rule(name="no sends", decide="forbid", action="send_winback")
    assert await plays(forbid_sends) == ["account_managers"]
    ask_first = Rule(name="ask", decide="approve", action="send_winback")
    assert await plays(ask_first) == ["win_back"]
    sized = Rule(name="big sends", decide="forbid", action="send_winback", audience_over=10)
    assert await plays(sized) == ["win_back"]  # its audience is unknown until it runs
