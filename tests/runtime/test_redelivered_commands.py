"""A command delivered twice (a platform's redelivery, a job run again after its worker died)
changes things once and answers both times as done."""

from __future__ import annotations

from handlers.cards import Inbound
from orchestrator.models import OutcomeStatus
from orchestrator.steps.rules import RuleBook
from orchestrator.workspace.catalog import Rule
from tests.conftest import CHANNEL, Harness

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


async def _twice(harness: Harness, user: str, text: str, delivery: str) -> list[str]:
    said = Inbound(CHANNEL, user, text, delivery_id=delivery)
    first = await harness.conversation.on_message(said)
    again = await harness.conversation.on_message(said)
    await harness.runtime.drain()
    return [first[0].card.title, again[0].card.title]


async def test_a_redelivered_pause_pauses_once_and_is_said_once(harness: Harness) -> None:
    """Typed in the outcome's own conversation, the pause is said there by its notice (no
    separate reply), once however often the command is delivered."""
    outcome_id = await harness.state("olivia", STATEMENT)
    said = Inbound(CHANNEL, "alice", f"pause {outcome_id}", delivery_id="Ev-pause")
    replies = [await harness.conversation.on_message(said) for _ in range(2)]
    await harness.runtime.drain()
    assert replies == [[], []]
    assert harness.gateway.titles().count(f"Outcome {outcome_id} is now paused.") == 1
    outcome = await harness.store.outcome(outcome_id)
    assert outcome.status is OutcomeStatus.PAUSED
    trail = await harness.store.audit_trail(outcome)
    assert [e.action for e in trail].count("outcome.paused") == 1


async def test_a_redelivered_policies_remove_removes_one_rule(harness: Harness) -> None:
    outcome_id = await harness.state("olivia", STATEMENT)
    outcome = await harness.store.outcome(outcome_id)
    step = (await harness.store.steps(outcome_id))[0]
    book = RuleBook(harness.store, harness.clock)
    workspace = harness.runtime.ctx.workspace_of("T1")
    for action in ("send_winback", "offer_discount"):
        rule = Rule(name=f"always ask before {action}", decide="approve", action=action)
        assert await book.add(workspace, "T1", rule, by="alice", step=step, outcome=outcome)
    before = [r.name for r in await book.rules("T1")]
    titles = await _twice(harness, "alice", "policies remove 1", "Ev-remove")
    assert titles[0].startswith("Rule removed by @alice")
    assert titles[1] == "Rule 1 was removed by @alice."
    assert [r.name for r in await book.rules("T1")] == before[1:]


async def test_a_redelivered_pause_all_is_audited_once(harness: Harness) -> None:
    await harness.state("olivia", STATEMENT)
    await _twice(harness, "bob", "pause all", "Ev-all")
    chain = await harness.store.audit_chain("T1")
    assert [e.action for e in chain].count("workspace.paused") == 1
