"""The console: a chat surface in the terminal, with the same handlers as Slack and Teams."""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path
from typing import TextIO

from handlers.cards import Card, Click, Inbound, Reply
from handlers.conversation import Conversation
from orchestrator.models import ConversationRef, MessageRef

CONSOLE = ConversationRef(platform="console", workspace="local", channel="console")


def format_card(card: Card, *, speaker: str = "baton") -> str:
    pad = " " * (len(speaker) + 3)
    lines = card.text().splitlines()
    out = [f"{speaker} > {lines[0] if lines else ''}"] + [pad + line for line in lines[1:]]
    if card.buttons:
        choices = "  ".join(
            f"[{b.label}: {b.action} {b.value}" + (" <reason>" if b.asks_reason else "") + "]"
            for b in card.buttons
        )
        out.append(pad + choices)
    return "\n".join(out)


class ConsoleGateway:
    """Prints cards; an update prints a one-line summary of what changed."""

    def __init__(self, out: TextIO | None = None, images: Path = Path(".baton/charts")) -> None:
        self.out = out or sys.stdout
        self.images = images
        self._ids = itertools.count(1)
        self.posted: dict[str, Card] = {}

    async def send(self, *, conversation: ConversationRef, card: Card) -> MessageRef:
        message_id = str(next(self._ids))
        self.posted[message_id] = card
        self._print(format_card(card))
        return MessageRef(conversation=conversation, message_id=message_id)

    async def update(self, *, ref: MessageRef, card: Card) -> None:
        self.posted[ref.message_id] = card
        effect = [line for line in card.lines if line.startswith("Measured effect")]
        summary = (effect or [card.footer or (card.fields[0][1] if card.fields else "")])[0]
        self._print(f"        (updated) {card.title.split(':')[0]} · {summary}")

    async def send_private(self, *, conversation: ConversationRef, user: str, card: Card) -> None:
        self._print(format_card(card, speaker=f"baton (to @{user} only)"))

    async def upload_image(self, *, conversation: ConversationRef, title: str, png: bytes) -> None:
        """The console cannot show a picture: save it and say where."""
        self.images.mkdir(parents=True, exist_ok=True)
        path = (
            self.images / f"{next(self._ids)}-{re.sub(r'[^a-z0-9]+', '-', title.lower())[:40]}.png"
        )
        path.write_bytes(png)
        self._print(f"baton > [chart saved to {path}]")

    def say(self, user: str, text: str) -> None:
        self._print(f"@{user} > {text}")

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


async def show(gateway: ConsoleGateway, user: str, replies: list[Reply]) -> None:
    for reply in replies:
        if reply.private:
            await gateway.send_private(conversation=CONSOLE, user=user, card=reply.card)
        else:
            await gateway.send(conversation=CONSOLE, card=reply.card)
        if reply.card.image_png:
            await gateway.upload_image(
                conversation=CONSOLE, title=reply.card.title, png=reply.card.image_png
            )


def parse_console_line(
    line: str, user: str, conversation: ConversationRef = CONSOLE
) -> Inbound | Click:
    """`approve a3`, `reject a3 too generous`, `confirm i1`, `cancel i1`, or a message."""
    words = line.split()
    if len(words) >= 2 and words[0].lower() in ("approve", "reject", "confirm", "cancel"):
        return Click(
            conversation=conversation,
            user=user,
            action=words[0].lower(),
            value=words[1],
            reason=" ".join(words[2:]),
        )
    return Inbound(conversation=conversation, user=user, text=line)


async def dispatch(
    conversation: Conversation, gateway: ConsoleGateway, user: str, line: str
) -> None:
    event = parse_console_line(line, user)
    if isinstance(event, Click):
        replies = await conversation.on_click(event)
    else:
        replies = await conversation.on_message(event)
    await show(gateway, user, replies)
