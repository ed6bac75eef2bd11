"""Adaptive Cards 1.5 from the neutral `Card`, and clicks back out of their action data.

Every piece of text goes as a `TextRun` in a `RichTextBlock`, which Teams never reads as
Markdown: a name, a customer's row or a drafted line showing `[Verify account](https://...)`
shows those characters, never a link (a TextBlock's or a Fact's text would be parsed, and
Teams honours no escape reliably). Fields are rows of two such blocks rather than a FactSet.

Buttons are `Action.Execute` (an `adaptiveCard/action` invoke answered with the updated card)
with an `Action.Submit` fallback for clients without Universal Actions. Approval cards carry a
`refresh` so whoever opens them later sees the current state.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from handlers import texts
from handlers.cards import Button, Card, progress_bar

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
REFRESH_VERB = "refresh"
REASON_INPUT = "reason"
REFRESH_USERS = 60
"""The most people a refresh block names (Teams' limit): cards refresh by themselves for
them in chats and channels of any size, and for everyone in those of up to 60."""
CARD_LIMIT = 27_000
"""Bytes of card JSON per message: Teams refuses a card over about 28 KB (413,
MessageSizeTooBig); a little is kept for the rest of the activity."""
_STYLES = {"primary": "positive", "danger": "destructive", "default": "default"}

Json = dict[str, Any]


def to_adaptive_card(card: Card, user_ids: Sequence[str] = ()) -> Json:
    """The Adaptive Card for `card`; its refresh, if any, names `user_ids` (the Teams user
    ids of the people the card concerns, as the gateway knows them)."""
    body: list[Json] = [_text(card.title, weight="Bolder", size="Medium")]
    body += [
        _literal(line) if index in card.literal else _text(line)
        for index, line in enumerate(card.lines)
    ]
    body += [_field(name, value) for name, value in card.fields]
    if card.progress is not None:
        body.append(_text(progress_bar(card.progress), fontType="Monospace"))
    if card.image_png is not None:
        # Teams shows data URIs in cards, so charts need no public file host.
        uri = "data:image/png;base64," + base64.b64encode(card.image_png).decode()
        body.append({"type": "Image", "url": uri, "altText": card.image_alt or card.title})
    if any(button.asks_reason for button in card.buttons):
        body.append(
            {
                "type": "Input.Text",
                "id": REASON_INPUT,
                "label": texts.TEAMS_REASON_LABEL,
                "placeholder": texts.TEAMS_REASON_PLACEHOLDER,
                "isMultiline": True,
            }
        )
    if card.footer:
        body.append(_text(card.footer, isSubtle=True, size="Small"))
    adaptive: Json = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": body}
    if card.buttons:
        adaptive["actions"] = [_action(button) for button in card.buttons]
    approval = next((b.value for b in card.buttons if b.action == "approve"), None)
    if approval is not None:
        refresh: Json = {"action": _execute(REFRESH_VERB, approval, texts.TEAMS_REFRESH)}
        if user_ids:
            refresh["userIds"] = list(dict.fromkeys(user_ids))[:REFRESH_USERS]
        adaptive["refresh"] = refresh
    return adaptive


def fitted(card: Card, limit: int = CARD_LIMIT, user_ids: Sequence[str] = ()) -> Json:
    """The Adaptive Card for `card` within `limit` bytes of JSON: lines that do not fit are
    left out from the end, with a line saying how many (the title, the facts and the buttons
    stay)."""
    adaptive = to_adaptive_card(card, user_ids)
    kept = len(card.lines)
    while kept > 0 and size(adaptive) > limit:
        kept -= 1
        lines = (*card.lines[:kept], texts.TEAMS_NOT_SHOWN.format(count=len(card.lines) - kept))
        adaptive = to_adaptive_card(replace(card, lines=lines), user_ids)
    return adaptive


def size(content: Json) -> int:
    """Bytes of a card's JSON, as Teams counts a message's size."""
    return len(json.dumps(content, separators=(",", ":")).encode())


def attachment_json(card: Card) -> Json:
    return {"contentType": CONTENT_TYPE, "content": to_adaptive_card(card)}


def click_data(data: object) -> tuple[str, str, str] | None:
    """(action, value, reason) from Execute or Submit data, or None when it is not Baton's."""
    if not isinstance(data, dict):
        return None
    action, value = data.get("baton"), data.get("value")
    if not isinstance(action, str) or not isinstance(value, str):
        return None
    reason = data.get(REASON_INPUT)
    return action, value, reason.strip() if isinstance(reason, str) else ""


def _action(button: Button) -> Json:
    execute = _execute(button.action, button.value, button.label)
    execute["style"] = _STYLES[button.style]
    submit = {"type": "Action.Submit", "title": button.label, "data": dict(execute["data"])}
    execute["fallback"] = submit
    return execute


def _execute(verb: str, value: str, title: str) -> Json:
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": {"baton": verb, "value": value},
    }


def _field(name: str, value: str) -> Json:
    """One field as a row: its name in bold, its value beside it (a FactSet would parse
    both as Markdown)."""
    return {
        "type": "ColumnSet",
        "spacing": "Small",
        "columns": [
            {"type": "Column", "width": 2, "items": [_text(name, weight="Bolder")]},
            {"type": "Column", "width": 3, "items": [_text(value)]},
        ],
    }


def _literal(text: str) -> Json:
    """Text shown exactly as written (a draft as it will be sent): a TextRun is never read
    as Markdown, so list marks, emphasis and links stay the characters they are."""
    run = {"type": "TextRun", "text": text, "fontType": "Monospace"}
    return {"type": "RichTextBlock", "inlines": [run]}


def _text(text: str, **style: object) -> Json:
    """Text shown as written, in the given style: a TextRun is never read as Markdown."""
    run = {"type": "TextRun", "text": text, **style}
    return {"type": "RichTextBlock", "inlines": [run]}
