"""Edit, then approve, in Teams, through Bot Framework invokes to a running `baton web` and
a worker, answers recorded by the connector double: the approval card's Edit action answers
with an input card, a refusal answers with it again saying why, and the approved edit
answers with the approval card showing the difference."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from botbuilder.core.adapters import TestAdapter
from redis.asyncio import Redis

from bot.demo.simulation import Business
from bot.teams.bot import BatonTeamsBot
from bot.teams.edit_card import input_card, submitted
from bot.teams.references import ReferenceStore
from handlers.edit_form import EditField, EditForm
from handlers.notifier import ChatNotifier
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Workspace
from tests.conftest import build_harness
from tests.teams.activities import execute
from tests.teams.conftest import TeamsTurns
from tests.teams.processes import eventually
from tests.teams.test_bot import card_text, state_outcome
from tests.teams.test_e2e import Teams, card_of, confirm_outcome, teams

__all__ = ["teams"]  # the fixture, shared with the demo story's tests

NEW_DRAFT = "Subject: A note from Northwind\nHi, a short note: reply and we will call you."


def _inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in card["body"] if item["type"].startswith("Input.")}


def _submission(teams: Teams, user: str, approval_id: str, **inputs: str) -> dict[str, Any]:
    """The input card's Approve action, with the inputs' values merged into its data, as
    Teams sends them."""
    activity = execute(user, "edit_submit", approval_id, teams.double.service_url)
    activity["value"]["action"]["data"].update(inputs)
    return activity


async def _submit(teams: Teams, user: str, approval_id: str, **inputs: str) -> dict[str, Any]:
    return await teams.invoke(_submission(teams, user, approval_id, **inputs))


async def test_a_draft_edited_in_the_input_card_is_approved(teams: Teams) -> None:
    await confirm_outcome(teams)
    approval_card, approval_id = await teams.card_with("edit")
    assert approval_card.card is not None

    opened = await teams.click("alice", "edit", approval_id)
    assert opened["type"] == "application/vnd.microsoft.card.adaptive"
    form = opened["value"]
    draft = _inputs(form)["draft"]
    assert draft["type"] == "Input.Text" and draft["isMultiline"]
    assert draft["value"].startswith("Subject:")
    assert [a["verb"] for a in form["actions"]] == ["edit_submit", "refresh"]

    unchanged = await _submit(teams, "alice", approval_id, draft=draft["value"])
    assert "Nothing was changed" in card_of(unchanged)
    outsider = await _submit(teams, "mallory", approval_id, draft=NEW_DRAFT)
    assert "Only the approvers" in card_of(outsider)
    assert NEW_DRAFT in str(_inputs(outsider["value"])["draft"]["value"]), "what was typed stays"

    submission = _submission(teams, "alice", approval_id, draft=NEW_DRAFT)
    approved = card_of(await teams.invoke(submission))
    assert "Approved by @alice" in approved and "Edited by @alice before approving" in approved
    assert "+Hi, a short note" in approved
    again = card_of(await teams.invoke(submission))  # redelivered: answered the same way
    assert "Approved by @alice" in again and again.count("Edited by @alice") == 1
    approval = await teams.store.approval(approval_id)
    trail = await teams.store.audit_trail(await teams.store.outcome(approval.outcome_id))
    (edited,) = [e for e in trail if e.action == "step.edited"]
    assert edited.actor == "alice" and edited.detail["after"]["draft"] == NEW_DRAFT

    async def updated_for_everyone() -> bool:
        updates = [
            u for u in teams.double.of("update") if u.activity_id == approval_card.activity_id
        ]
        return bool(updates) and "Edited by @alice" in str(updates[-1].card)

    await eventually(updated_for_everyone, "the card updated in place")
    late = await teams.click("bob", "edit", approval_id)
    assert "approved already" in str(late["value"])


def test_parameters_are_typed_inputs_within_the_schema() -> None:
    form = EditForm(
        "a7",
        "discount_20",
        (
            EditField("percent", "integer", "20", 1, 50, "discount in percent"),
            EditField("rate", "number", "0.5"),
            EditField("notify", "boolean", "true"),
            EditField("segment", "string", "quiet"),
        ),
        None,
    )
    inputs = _inputs(input_card(form))
    assert inputs["param_percent"] | {} == {
        "type": "Input.Number",
        "id": "param_percent",
        "label": "percent (discount in percent)",
        "isRequired": True,
        "value": 20,
        "min": 1,
        "max": 50,
    }
    assert inputs["param_rate"]["value"] == 0.5
    assert inputs["param_notify"]["type"] == "Input.ChoiceSet"
    assert inputs["param_segment"]["type"] == "Input.Text" and "draft" not in inputs
    # Teams sends a number input's value as a number or as text: either reads the same.
    assert submitted({"baton": "edit_submit", "param_percent": 10.0, "param_notify": "false"}) == (
        {"percent": "10", "notify": "false"},
        None,
    )


@pytest.fixture
async def discounting(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[TeamsTurns]:
    """The bot on a workspace whose first play is the 20% discount (a number to edit)."""
    data = workspace.model_dump(mode="json")
    data["playbooks"]["churn_rate"].sort(key=lambda play: play["name"] != "discount_20")
    harness = build_harness(redis, keys, Workspace.model_validate(data), business)
    await harness.runtime.start()
    notifier = cast(ChatNotifier, harness.runtime.notifier)
    cast(dict[str, Any], notifier.gateways)["teams"] = harness.gateway
    references = ReferenceStore(harness.store.redis, harness.store.keys.prefix)
    bot = BatonTeamsBot(harness.conversation, references)
    yield TeamsTurns(TestAdapter(bot.on_turn), bot, harness)
    await harness.connectors.close()


async def test_a_number_out_of_bounds_is_refused_on_the_card(discounting: TeamsTurns) -> None:
    teams = discounting
    await state_outcome(teams)
    approval_id = teams.harness.gateway.buttons("edit")[-1]
    opened = await teams.invoke(execute("alice", "edit", approval_id))
    percent = _inputs(opened["value"])["param_percent"]
    assert (percent["type"], percent["value"], percent["max"]) == ("Input.Number", 20, 50)

    def submit(value: object) -> dict[str, Any]:
        activity = execute("alice", "edit_submit", approval_id)
        activity["value"]["action"]["data"]["param_percent"] = value
        return activity

    refused = await teams.invoke(submit(60))
    assert "percent must be at most 50" in card_text(refused)
    assert _inputs(refused["value"])["param_percent"]["value"] == 60, "what was typed stays"
    approved = card_text(await teams.invoke(submit("10")))
    assert "percent: 20 -> 10" in approved and "Approved by @alice" in approved
