"""The console: a chat surface in the terminal, with the same handlers as Slack and Teams."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from handlers import texts
from handlers.cards import Button, Card, Click, Inbound, Reply
from handlers.conversation import Conversation
from orchestrator.models import ConversationRef, MessageRef
from orchestrator.runtime.clock import Clock
from orchestrator.runtime.queue import JobQueue

if TYPE_CHECKING:
    from bot.bootstrap import App

CONSOLE = ConversationRef(platform="console", workspace="local", channel="console")
CLICKS = ("approve", "reject", "confirm", "cancel", "rule", "autonomy", "revoke")
"""First words that make a line a button press: every button the console shows."""
SETTLE_S = 30.0
"""How long a line's work (intake, a tick, its steps) may take before the prompt returns."""


def format_card(card: Card, *, speaker: str = "baton") -> str:
    pad = " " * (len(speaker) + 3)
    lines = card.text().splitlines()
    out = [f"{speaker} > {lines[0] if lines else ''}"] + [pad + line for line in lines[1:]]
    if card.buttons:
        choices = "  ".join(
            f"[{b.label}: {b.action} {b.value}" + _hint(b) + "]" for b in card.buttons
        )
        out.append(pad + choices)
    return "\n".join(out)


def _hint(button: Button) -> str:
    """What follows a button's words: a rejection's reason, an edit's change."""
    if button.action == "edit":
        return " <new draft | name=value>"
    return " <reason>" if button.asks_reason else ""


class ConsoleGateway:
    """Prints cards; an update prints a one-line summary of what changed."""

    def __init__(self, out: TextIO | None = None, images: Path = Path(".baton/charts")) -> None:
        self.out = out or sys.stdout
        self.images = images
        self._ids = itertools.count(1)
        self.posted: dict[str, Card] = {}
        self.prompt: str | None = None
        """The prompt on screen while a person types; output then goes on a line of its
        own and the prompt is shown again under it."""

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

    async def upload_image(
        self, *, conversation: ConversationRef, title: str, png: bytes, alt: str = ""
    ) -> None:
        """The console cannot show a picture: save it, say where and what it shows."""
        self.images.mkdir(parents=True, exist_ok=True)
        path = (
            self.images / f"{next(self._ids)}-{re.sub(r'[^a-z0-9]+', '-', title.lower())[:40]}.png"
        )
        path.write_bytes(png)
        self._print(f"baton > [chart saved to {path}]" + (f" {alt}" if alt else ""))

    def say(self, user: str, text: str) -> None:
        self._print(f"@{user} > {text}")

    def write(self, text: str) -> None:
        """A line of the console's own (the banner, a note)."""
        self._print(text)

    def _print(self, text: str) -> None:
        if self.prompt is None:
            print(text, file=self.out, flush=True)
            return
        print("\n" + text, file=self.out)
        print(self.prompt, end="", file=self.out, flush=True)


async def show(gateway: ConsoleGateway, user: str, replies: list[Reply]) -> None:
    for reply in replies:
        if reply.private:
            await gateway.send_private(conversation=CONSOLE, user=user, card=reply.card)
        else:
            await gateway.send(conversation=CONSOLE, card=reply.card)
        if reply.card.image_png:
            await gateway.upload_image(
                conversation=CONSOLE,
                title=reply.card.title,
                png=reply.card.image_png,
                alt=reply.card.image_alt,
            )


def parse_console_line(
    line: str, user: str, conversation: ConversationRef = CONSOLE
) -> Inbound | Click:
    """`approve a3`, `reject a3 too generous`, `confirm i1`, `cancel i1`, `rule a3`, or a
    message."""
    words = line.split()
    if len(words) >= 2 and words[0].lower() in CLICKS:
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


Opener = Callable[[ConsoleGateway, Callable[[str], None]], Awaitable["App"]]
"""Wires Baton for the console: the gateway to print through, and where to say a note
(such as the example data being created) before the banner."""


async def run_console(open_app: Opener, *, user: str, lines: TextIO, out: TextIO) -> None:
    """The console session: a banner, then one line at a time until `quit` or the end of
    `lines`. Each line's work is finished before the next prompt, so answers come in order
    under the line that caused them."""
    gateway = ConsoleGateway(out)
    notes: list[str] = []
    baton = await open_app(gateway, notes.append)
    gateway.images = baton.settings.state_dir / "charts"
    me = user or baton.workspace.people.owner or "owner"
    gateway.write(
        texts.CONSOLE_BANNER.format(
            workspace=baton.workspace.name, store=baton.store_label, user=me
        )
    )
    for note in notes:
        gateway.write(note)
    stop = asyncio.Event()
    background = [
        asyncio.create_task(baton.runtime.run_worker(stop)),
        asyncio.create_task(baton.runtime.run_timers(stop)),
    ]
    reader = LineReader(lines, gateway)
    try:
        while (line := await reader.next(me)) is not None:
            if line.startswith("as "):
                me = line[3:].strip().lstrip("@") or me
                continue
            if line.strip():
                await dispatch(baton.conversation, gateway, me, line)
                await settle(baton.runtime.ctx.queue, baton.runtime.ctx.clock)
    finally:
        stop.set()
        await asyncio.gather(*background)
        await baton.close()


class LineReader:
    """Lines from a person at a terminal (a prompt, their typing echoed by the terminal) or
    from a file or pipe (each line written after the prompt, so the transcript reads like
    the conversation it was)."""

    def __init__(self, lines: TextIO, gateway: ConsoleGateway) -> None:
        self.lines = lines
        self.gateway = gateway
        self.interactive = lines is sys.stdin and _tty(lines) and _tty(gateway.out)

    async def next(self, user: str) -> str | None:
        """The next line, or None at the end (also `quit` and `exit`)."""
        prompt = f"@{user} > "
        line = await (self._typed(prompt) if self.interactive else self._read(prompt))
        return None if line is None or line.strip() in ("quit", "exit") else line

    async def _typed(self, prompt: str) -> str | None:
        self.gateway.prompt = prompt
        try:
            return await asyncio.to_thread(input, prompt)
        except EOFError:
            return None
        finally:
            self.gateway.prompt = None

    async def _read(self, prompt: str) -> str | None:
        raw = await asyncio.to_thread(self.lines.readline)
        if not raw:
            return None
        line = raw.rstrip("\r\n")
        if line.strip():
            self.gateway.write(prompt + line)
        return line


def _tty(stream: TextIO) -> bool:
    with contextlib.suppress(ValueError, OSError):
        return stream.isatty()
    return False


async def settle(queue: JobQueue, clock: Clock, timeout_s: float = SETTLE_S) -> None:
    """Wait until no job waits or runs and no timer is due: everything the last line
    caused has been said. A job that takes longer than `timeout_s` answers later, on a
    line of its own."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout_s
    while loop.time() < give_up:
        due = await queue.next_due()
        if await queue.backlog() == 0 and (due is None or due > clock.now().timestamp()):
            return
        await asyncio.sleep(0.05)
