"""Block Kit rendering of the neutral cards, the reject modal and the App Home view."""

from __future__ import annotations

import json
from typing import Any

from handlers import texts
from handlers.cards import Button, Card, progress_bar

Block = dict[str, Any]

ACTION_PREFIX = "baton_"
REJECT_CALLBACK = "baton_reject_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
SECTION_LIMIT = 2900  # Slack refuses section text over 3000 characters
MAX_FIELDS = 10  # Slack's limit per section


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def to_blocks(card: Card) -> list[Block]:
    """A card as Block Kit blocks: title, lines, fields, progress, buttons, footer."""
    blocks = [section(f"*{escape(card.title)}*")]
    if card.lines:
        blocks += [section(chunk) for chunk in _chunks(escape("\n".join(card.lines)))]
    for start in range(0, len(card.fields), MAX_FIELDS):
        fields = card.fields[start : start + MAX_FIELDS]
        blocks.append(
            {
                "type": "section",
                "fields": [mrkdwn(f"*{escape(n)}*\n{escape(v)}"[:1900]) for n, v in fields],
            }
        )
    if card.progress is not None:
        blocks.append({"type": "context", "elements": [mrkdwn(f"`{progress_bar(card.progress)}`")]})
    if card.buttons:
        blocks.append({"type": "actions", "elements": [to_button(b) for b in card.buttons]})
    if card.footer:
        blocks.append({"type": "context", "elements": [mrkdwn(escape(card.footer))]})
    return blocks


def fallback_text(card: Card) -> str:
    """The notification text Slack shows where blocks cannot be shown."""
    return card.text()[:SECTION_LIMIT]


def to_button(button: Button) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": button.label[:75]},
        "action_id": ACTION_PREFIX + button.action,
        "value": button.value,
    }
    if button.style != "default":
        element["style"] = button.style
    return element


def reject_modal(metadata: dict[str, str]) -> Block:
    """The modal that asks for a rejection's reason; `metadata` comes back on submission."""
    return {
        "type": "modal",
        "callback_id": REJECT_CALLBACK,
        "private_metadata": json.dumps(metadata, sort_keys=True),
        "title": {"type": "plain_text", "text": texts.SLACK_REJECT_TITLE},
        "submit": {"type": "plain_text", "text": texts.SLACK_REJECT_SUBMIT},
        "close": {"type": "plain_text", "text": texts.SLACK_REJECT_CLOSE},
        "blocks": [
            section(escape(texts.SLACK_REJECT_PROMPT.format(approval=metadata["approval"]))),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": texts.SLACK_REJECT_LABEL},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "min_length": 3,
                },
            },
        ],
    }


def home_view(cards: list[Card], pending: list[str]) -> Block:
    """The App Home tab: one card per outcome (no buttons), then the pending approvals."""
    blocks: list[Block] = [section(f"*{escape(texts.SLACK_HOME_TITLE)}*")]
    if not cards:
        blocks.append(section(escape(texts.NO_OUTCOMES)))
    for card in cards[:15]:  # a Home view holds at most 100 blocks
        blocks.append({"type": "divider"})
        blocks += [b for b in to_blocks(card) if b["type"] != "actions"]
    blocks = blocks[:90]
    blocks += [{"type": "divider"}, section(f"*{escape(texts.SLACK_HOME_PENDING)}*")]
    lines = [escape(line) for line in pending] or [escape(texts.SLACK_HOME_NO_PENDING)]
    blocks += [section(chunk) for chunk in _chunks("\n".join(lines))][: 100 - len(blocks)]
    return {"type": "home", "blocks": blocks}


def _chunks(text: str) -> list[str]:
    return [text[i : i + SECTION_LIMIT] for i in range(0, len(text), SECTION_LIMIT)] or [""]
