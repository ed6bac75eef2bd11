"""Stating outcomes through the conversation: questions, answers, bad input."""

from __future__ import annotations

import pytest

from orchestrator.models import OutcomeStatus
from tests.conftest import CHANNEL, Harness


async def test_asks_one_question_at_a_time_and_understands_answers(harness: Harness) -> None:
    await harness.say("olivia", "reduce it by 10% soon")
    assert harness.gateway.titles()[-1].startswith("Which metric should move?")
    await harness.say("olivia", "churn")
    assert "relative" in harness.gateway.titles()[-1]
    await harness.say("olivia", "relative please")
    assert harness.gateway.titles()[-1].startswith("By when?")
    await harness.say("olivia", "end of Q1")
    card = harness.gateway.sent[-1].current
    assert card.title == "Statement of Benefit"
    assert "-10% relative" in card.lines[0] and "2027-03-31" in card.lines[0]


async def test_metric_question_accepts_a_number(harness: Harness) -> None:
    await harness.say("olivia", "improve things to 30 by March")
    await harness.say("olivia", "2")  # the second metric in the catalog
    assert harness.gateway.titles()[-1] == "Statement of Benefit"
    assert "at_risk_customers" in harness.gateway.sent[-1].current.lines[0]


async def test_unrecognised_answer_is_asked_again(harness: Harness) -> None:
    await harness.say("olivia", "cut churn by 2% by March")
    await harness.say("olivia", "hmm, not sure")
    assert "relative" in harness.gateway.titles()[-1]
    await harness.say("olivia", "points")
    assert harness.gateway.titles()[-1] == "Statement of Benefit"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("please make everything better", "could not find an outcome"),
        ("increase churn to 12% by March", "better when it goes down"),
        ("raise open tickets by 10 by March", "better when it goes down"),
        ("reduce churn to 20% by March", "already 8.3%, which meets the target of 20.0%"),
        ("get churn to 50% by 31 March", "already"),
        ("keep MRR above 100 by March", "already"),
        ("reduce churn to 5% by 2026-01-01", "already passed"),
        ("reduce churn to 5% by 31 February", "could not read the date"),
    ],
)
async def test_bad_input_gets_a_clear_answer_and_starts_nothing(
    harness: Harness, text: str, says: str
) -> None:
    replies = await harness.say("olivia", text)
    shown = " ".join(
        [r.card.text() for r in replies] + [s.current.text() for s in harness.gateway.sent]
    )
    assert says in shown
    assert await harness.store.outcomes("T1") == []
    assert harness.gateway.buttons("confirm") == []


async def test_unknown_single_word_gets_help(harness: Harness) -> None:
    replies = await harness.say("olivia", "frobnicate")
    assert "I do not know 'frobnicate'" in replies[0].card.title
    assert "Commands:" in replies[0].card.title


async def test_measurement_failure_is_explained(harness: Harness) -> None:
    harness.business.path.unlink()
    harness.business.path.mkdir()  # the CRM is gone: reads fail
    await harness.say("olivia", "reduce churn to 5% by March")
    assert "could not measure churn_rate" in harness.gateway.titles()[-1]
    assert await harness.store.outcomes("T1") == []


async def test_only_the_owner_confirms_and_only_once(harness: Harness) -> None:
    await harness.say("olivia", "reduce churn to 6% by March")
    session = harness.gateway.buttons("confirm")[-1]
    replies = await harness.click("mallory", "confirm", session)
    assert replies[0].private and "Only @olivia" in replies[0].card.title
    first = await harness.click("olivia", "confirm", session)
    again = await harness.click("olivia", "confirm", session)
    assert "Confirmed" in first[0].card.title and first[0].replace
    assert again[0].private
    outcomes = await harness.store.outcomes("T1")
    assert [o.status for o in outcomes] == [OutcomeStatus.ACTIVE]


async def test_cancel_leaves_nothing(harness: Harness) -> None:
    await harness.say("olivia", "reduce churn to 6% by March")
    session = harness.gateway.buttons("confirm")[-1]
    replies = await harness.click("olivia", "cancel", session)
    assert replies[0].card.title.startswith("Cancelled")
    again = await harness.click("olivia", "confirm", session)
    assert again[0].private
    assert await harness.store.outcomes("T1") == []


async def test_redelivered_message_starts_one_intake(harness: Harness) -> None:
    from handlers.cards import Inbound

    message = Inbound(CHANNEL, "olivia", "reduce churn to 6% by March", delivery_id="Ev1")
    await harness.conversation.on_message(message)
    await harness.conversation.on_message(message)
    await harness.runtime.drain()
    assert len(harness.gateway.buttons("confirm")) == 1


async def test_statement_shows_measured_baseline_when_owner_guessed(harness: Harness) -> None:
    await harness.say("olivia", "Reduce churn from 9% to 6% by 31 March")
    card = harness.gateway.sent[-1].current
    assert any("You said it is 9" in line for line in card.lines)
