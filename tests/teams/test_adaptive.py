"""Adaptive Cards 1.5 from neutral cards, and click data back."""

from __future__ import annotations

import base64

from bot.teams.adaptive import click_data, to_adaptive_card
from handlers.cards import Button, Card

APPROVAL = Card(
    title="Approval needed: send",
    lines=("why",),
    fields=(("Cost", "£0"),),
    progress=0.5,
    buttons=(
        Button("Approve", "approve", "a7", "primary"),
        Button("Reject", "reject", "a7", "danger", asks_reason=True),
    ),
    footer="Decide by Friday",
)


def test_buttons_are_execute_actions_with_a_submit_fallback() -> None:
    card = to_adaptive_card(APPROVAL)
    approve, reject = card["actions"]
    assert (approve["type"], approve["verb"], approve["style"]) == (
        "Action.Execute",
        "approve",
        "positive",
    )
    assert reject["style"] == "destructive"
    assert approve["fallback"] == {
        "type": "Action.Submit",
        "title": "Approve",
        "data": {"baton": "approve", "value": "a7"},
    }


def test_a_reason_input_and_a_refresh_for_approvals() -> None:
    card = to_adaptive_card(APPROVAL)
    kinds = [element["type"] for element in card["body"]]
    assert kinds == [
        "RichTextBlock",
        "RichTextBlock",
        "ColumnSet",
        "RichTextBlock",
        "Input.Text",
        "RichTextBlock",
    ]
    assert card["body"][4]["id"] == "reason"
    assert card["refresh"]["action"]["data"] == {"baton": "refresh", "value": "a7"}
    assert card["version"] == "1.5"


def test_cards_without_buttons_have_no_actions_or_refresh() -> None:
    card = to_adaptive_card(Card(title="Outcome o1 achieved"))
    assert "actions" not in card and "refresh" not in card


def test_click_data_reads_execute_and_submit_payloads() -> None:
    assert click_data({"baton": "reject", "value": "a7", "reason": "  no  "}) == (
        "reject",
        "a7",
        "no",
    )
    assert click_data({"baton": "approve", "value": "a7"}) == ("approve", "a7", "")
    assert click_data({"something": "else"}) is None
    assert click_data("text") is None


def test_a_chart_travels_inline_as_a_data_uri() -> None:
    card = to_adaptive_card(Card(title="o1", image_png=b"\x89PNG chart"))
    image = card["body"][-1]
    prefix = "data:image/png;base64,"
    assert image["type"] == "Image" and image["url"].startswith(prefix)
    assert base64.b64decode(image["url"][len(prefix) :]) == b"\x89PNG chart"
