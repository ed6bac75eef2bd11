"""Block Kit within Slack's limits: a card too big for one message is split, or shortened."""

from __future__ import annotations

import json

from bot.slack.blocks import MAX_BLOCKS, fitted, to_messages
from handlers.cards import Button, Card


def test_a_card_over_the_limits_is_split_and_a_replacement_shortened() -> None:
    lines = tuple(f"line {n}: " + "x" * 400 for n in range(120))
    buttons = (Button("Approve", "approve", "a1"),)
    card = Card(
        title="Big", lines=lines, fields=(("Cost", "0"),) * 300, buttons=buttons, footer="f"
    )
    messages = to_messages(card)
    assert len(messages) > 1
    assert all(len(m) <= MAX_BLOCKS and len(json.dumps(m)) <= 13_000 for m in messages)
    assert messages[0][0]["text"]["text"] == "*Big*" and messages[-1][-1]["type"] == "context"
    one = fitted(card)
    assert len(one) <= MAX_BLOCKS and len(json.dumps(one)) <= 13_000
    assert one[-2]["type"] == "actions"  # the buttons stay
    assert "more not shown" in json.dumps(one[-3])
