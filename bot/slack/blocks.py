"""Block Kit rendering of the neutral cards, the reject modal and the App Home view."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from handlers import texts
from handlers.cards import Button, Card, progress_bar

Block = dict[str, Any]
_USER_ID = re.compile(r"[\w.-]+")
"""A user id that is safe inside a mention (no `<`, `>`, `|`, `&`)."""

ACTION_PREFIX = "baton_"
REJECT_CALLBACK = "baton_reject_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
SECTION_LIMIT = 2900  # Slack refuses section text over 3000 characters
MAX_FIELDS = 10  # Slack's limit per section
FIELD_LIMIT = 1900  # Slack refuses a field's text over 2000 characters
BUTTON_LIMIT = 75  # Slack refuses button text over 75 characters
MAX_BUTTONS = 25  # Slack's limit of elements per actions block
MAX_BLOCKS = 50  # Slack refuses a message of more blocks (invalid_blocks)
MESSAGE_LIMIT = 12_000
"""Characters of block JSON per message: Slack refuses much more (`msg_blocks_too_long`, at
about 13,000 characters of text; the limit is not documented), whatever the block count."""


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
    if mentioned(card):
        blocks.append(section(mentioned(card)))
    blocks += _line_blocks(card)
    fields = [f"*{escape(n)}*\n{escape(v)}"[:FIELD_LIMIT] for n, v in card.fields]
    blocks += [
        {"type": "section", "fields": [mrkdwn(f) for f in group]} for group in _groups(fields)
    ]
    if card.progress is not None:
        blocks.append({"type": "context", "elements": [mrkdwn(f"`{progress_bar(card.progress)}`")]})
    if card.buttons:
        buttons = [to_button(b) for b in card.buttons[:MAX_BUTTONS]]
        blocks.append({"type": "actions", "elements": buttons})
    if card.footer:
        blocks.append({"type": "context", "elements": [mrkdwn(escape(card.footer))]})
    return blocks


def _line_blocks(card: Card) -> list[Block]:
    """The card's lines: runs of ordinary lines as mrkdwn sections, a literal line (a draft
    as it will be sent) as preformatted rich text, which Slack never reads as markup."""
    blocks: list[Block] = []
    run: list[str] = []
    for index, line in enumerate(card.lines):
        if index not in card.literal:
            run.append(escape(line))
            continue
        blocks += [section(chunk) for chunk in _sections(run)] if run else []
        run = []
        blocks += [literal(piece) for piece in _chunks(line)]
    return blocks + ([section(chunk) for chunk in _sections(run)] if run else [])


def literal(text: str) -> Block:
    """Text shown exactly as written: no mrkdwn, no links, no mentions."""
    element = {"type": "text", "text": text}
    preformatted = {"type": "rich_text_preformatted", "elements": [element]}
    return {"type": "rich_text", "elements": [preformatted]}


def to_messages(card: Card) -> list[list[Block]]:
    """A card as one message, or as several when one would be over Slack's limits (blocks
    per message, characters per message): the title opens the first, the buttons and the
    footer close the last, and no block is cut."""
    messages: list[list[Block]] = [[]]
    for block in to_blocks(card):
        if messages[-1] and not fits([*messages[-1], block]):
            messages.append([])
        messages[-1].append(block)
    return messages


def fitted(card: Card) -> list[Block]:
    """A card as one message within Slack's limits (to replace a posted one in place): the
    blocks that do not fit are left out, with a line saying how many, before the buttons
    and the footer."""
    blocks = to_blocks(card)
    if fits(blocks):
        return blocks
    body = to_blocks(replace(card, buttons=(), footer=""))
    tail = blocks[len(body) :]  # the buttons and the footer come last
    kept = len(body)
    while kept > 1 and not fits([*body[:kept], _not_shown(len(body) - kept), *tail]):
        kept -= 1
    return [*body[:kept], _not_shown(len(body) - kept), *tail]


def fits(blocks: list[Block]) -> bool:
    """Whether one message may carry `blocks`."""
    return len(blocks) <= MAX_BLOCKS and len(json.dumps(blocks)) <= MESSAGE_LIMIT


def _not_shown(count: int) -> Block:
    return {"type": "context", "elements": [mrkdwn(texts.SLACK_NOT_SHOWN.format(count=count))]}


def fallback_text(card: Card) -> str:
    """The notification text Slack shows where blocks cannot be shown (notifications use
    it): escaped, so data and drafts in it never mention anyone or make a link; the card's
    own mentions, which notify the people it is for, come first, so no cut drops them."""
    mentions = mentioned(card)
    return ((mentions + "\n" if mentions else "") + escape(card.text()))[:SECTION_LIMIT]


def mentioned(card: Card) -> str:
    """The card's people as Slack mentions (`<@U123>`), which notify them; "" for none."""
    users = [u for u in card.mentions if _USER_ID.fullmatch(u)]
    if not users:
        return ""
    return texts.APPROVAL_FOR.format(people=", ".join(f"<@{u}>" for u in users))


def to_button(button: Button) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": button.label[:BUTTON_LIMIT]},
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


def home_view(cards: list[Card], pending: list[str], waiting: Card | None = None) -> Block:
    """The App Home tab: what waits for the viewer, with its buttons; one card per outcome
    (no buttons); then every pending approval."""
    blocks: list[Block] = [*to_blocks(waiting), {"type": "divider"}] if waiting else []
    blocks.append(section(f"*{escape(texts.SLACK_HOME_TITLE)}*"))
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


def _groups(fields: list[str]) -> list[list[str]]:
    """Fields in sections of at most `MAX_FIELDS`, and of at most `SECTION_LIMIT` characters
    in all, so that any one section fits in a message."""
    groups: list[list[str]] = []
    for field in fields:
        last = groups[-1] if groups else None
        if last is None or len(last) == MAX_FIELDS or len("".join(last) + field) > SECTION_LIMIT:
            groups.append([field])
        else:
            last.append(field)
    return groups


def _sections(lines: list[str]) -> list[str]:
    """Lines packed into section texts within the limit, whole lines where they fit (so a
    message split between sections never cuts a line), a longer line in pieces."""
    sections: list[str] = []
    for line in lines:
        for piece in _chunks(line):
            if sections and len(sections[-1]) + 1 + len(piece) <= SECTION_LIMIT:
                sections[-1] += "\n" + piece
            else:
                sections.append(piece)
    return sections or [""]
