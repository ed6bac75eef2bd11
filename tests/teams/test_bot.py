"""The Teams ActivityHandler over the real handlers, driven by botbuilder's TestAdapter."""

from __future__ import annotations

from typing import Any

from bot.teams.references import NoConversationReference, ReferenceStore
from handlers import texts
from orchestrator.models import ApprovalStatus
from tests.doubles.bot_connector import texts_of
from tests.teams.activities import CHANNEL_ID, TENANT, execute, installation, message, submit
from tests.teams.conftest import TeamsTurns

STATEMENT = "Cut monthly churn by 2% by the end of Q1"


def card_text(body: dict[str, Any]) -> str:
    assert body["type"] == "application/vnd.microsoft.card.adaptive", body
    return str(body["value"])


async def state_outcome(teams: TeamsTurns) -> str:
    await teams.turn(message("olivia", STATEMENT, mention=True))
    await teams.turn(message("olivia", "points"))
    session = teams.harness.gateway.buttons("confirm")[-1]
    body = await teams.invoke(execute("olivia", "confirm", session))
    assert "Confirmed" in card_text(body)
    return "o" + session[1:]


async def test_first_contact_saves_the_conversation_reference(teams: TeamsTurns) -> None:
    references = ReferenceStore(teams.harness.store.redis, teams.harness.store.keys.prefix)
    try:
        await references.reference(CHANNEL_ID)
        raise AssertionError("a reference before any contact")
    except NoConversationReference:
        pass
    sent = await teams.turn(installation("olivia", "https://smba.example/emea/"))
    reference = await references.reference(CHANNEL_ID)
    assert reference.service_url == "https://smba.example/emea/"
    assert reference.activity_id is None
    assert await references.teams_user("olivia") == "29:olivia"
    assert "State an outcome" in sent[0].text


async def test_mention_states_an_outcome_in_the_teams_tenant(teams: TeamsTurns) -> None:
    await teams.turn(message("olivia", STATEMENT, mention=True))
    asked = teams.harness.gateway.sent[-1]
    assert "relative" in asked.card.title
    assert asked.ref.conversation.platform == "teams"
    assert asked.ref.conversation.workspace == TENANT
    assert asked.ref.conversation.channel == CHANNEL_ID


async def test_commands_reply_with_adaptive_cards(teams: TeamsTurns) -> None:
    # In a personal chat: the private answer comes back in the same conversation.
    asked = message("olivia", "help", mention=True)
    asked["conversation"].update(conversationType="personal", isGroup=False, id="a:olivia")
    sent = await teams.turn(asked)
    card = sent[0].attachments[0]
    assert card.content_type == "application/vnd.microsoft.card.adaptive"
    assert card.content["version"] == "1.5"
    assert "State an outcome" in texts_of(card.content["body"][0])[0]


async def test_confirm_answers_the_invoke_with_the_updated_card(teams: TeamsTurns) -> None:
    outcome_id = await state_outcome(teams)
    outcome = await teams.harness.store.outcome(outcome_id)
    assert outcome.owner == "olivia"
    assert outcome.conversation.workspace == TENANT


async def test_redelivered_invoke_does_not_decide_twice(teams: TeamsTurns) -> None:
    await state_outcome(teams)
    approval = teams.harness.gateway.buttons("approve")[-1]
    click = execute("alice", "approve", approval)
    first = await teams.invoke(click)
    again = await teams.invoke(click)
    assert "Approved by" in card_text(first)
    assert "Approved by" in card_text(again)  # the card as it stands, not a second decision
    decided = await teams.harness.store.approval(approval)
    assert decided.status is ApprovalStatus.APPROVED and decided.decided_by == "alice"


async def test_double_click_is_told_privately_it_was_decided(teams: TeamsTurns) -> None:
    await state_outcome(teams)
    approval = teams.harness.gateway.buttons("approve")[-1]
    await teams.invoke(execute("alice", "approve", approval))
    body = await teams.invoke(execute("bob", "reject", approval, reason="too late"))
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert body["value"].startswith("Already approved by @alice")
    assert (await teams.harness.store.approval(approval)).status is ApprovalStatus.APPROVED


async def test_someone_else_is_refused_privately(teams: TeamsTurns) -> None:
    await state_outcome(teams)
    approval = teams.harness.gateway.buttons("approve")[-1]
    body = await teams.invoke(execute("mallory", "approve", approval))
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert "Only the approvers" in body["value"]
    assert (await teams.harness.store.approval(approval)).status is ApprovalStatus.PENDING


async def test_reject_needs_the_reason_from_the_card_input(teams: TeamsTurns) -> None:
    await state_outcome(teams)
    approval = teams.harness.gateway.buttons("approve")[-1]
    body = await teams.invoke(execute("bob", "reject", approval))
    assert body["value"] == texts.REASON_REQUIRED
    body = await teams.invoke(execute("bob", "reject", approval, reason="Not this week"))
    assert "Rejected by @bob" in card_text(body) and "Not this week" in card_text(body)


async def test_submit_fallback_decides_like_execute(teams: TeamsTurns) -> None:
    await state_outcome(teams)
    approval = teams.harness.gateway.buttons("approve")[-1]
    await teams.turn(submit("alice", "approve", approval))
    assert (await teams.harness.store.approval(approval)).status is ApprovalStatus.APPROVED


async def test_refresh_shows_the_decided_state(teams: TeamsTurns) -> None:
    await state_outcome(teams)
    approval = teams.harness.gateway.buttons("approve")[-1]
    pending = await teams.invoke(execute("alice", "refresh", approval))
    assert any(a["verb"] == "approve" for a in pending["value"]["actions"])
    await teams.invoke(execute("alice", "approve", approval))
    decided = await teams.invoke(execute("bob", "refresh", approval))
    assert "actions" not in decided["value"] and "Approved by" in card_text(decided)
