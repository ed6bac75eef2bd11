"""The neutral vocabulary of what Baton shows: cards with fields and buttons.

Platform adapters in bot/ render these as Block Kit, Adaptive Cards or console text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from orchestrator.models import ConversationRef, MessageRef
from orchestrator.runtime.queue import Delivery


@dataclass(frozen=True)
class Button:
    """A button; `action` is what a click means, `value` the record it is about. `edit`
    opens a form (Slack's modal, Teams' input card); the console says the command."""

    label: str
    action: Literal["confirm", "cancel", "approve", "reject", "rule", "autonomy", "revoke", "edit"]
    value: str
    style: Literal["primary", "danger", "default"] = "default"
    asks_reason: bool = False


@dataclass(frozen=True)
class Card:
    title: str
    lines: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    progress: float | None = None
    """0..1, shown as a bar."""
    buttons: tuple[Button, ...] = ()
    footer: str = ""
    image_png: bytes | None = field(default=None, repr=False)
    image_alt: str = ""
    """What the image shows, in words, for screen readers and clients that show no images."""
    literal: tuple[int, ...] = ()
    """Indices of `lines` shown exactly as written, every character as it will be sent (a
    draft): a platform renders them as preformatted text, never as markup, lists or links."""
    mentions: tuple[str, ...] = ()
    """People to notify, by platform id (approvers of a pending approval): a platform that
    can mention people does, in the message text and its body."""
    concerns: tuple[str, ...] = ()
    """People the card is theirs to act on or watch, by platform id (an approval's
    approvers and its outcome's owner): a platform that refreshes a card per person, when
    opened, does so for them wherever the card is (Teams' refresh `userIds`)."""

    def text(self) -> str:
        """A plain-text rendering, used by the console and as a notification fallback."""
        parts = [self.title, *self.lines]
        parts += [f"{name}: {value}" for name, value in self.fields]
        if self.progress is not None:
            parts.append(progress_bar(self.progress))
        if self.footer:
            parts.append(self.footer)
        return "\n".join(parts)


def progress_bar(share: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, share)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {share:.0%}"


@dataclass(frozen=True)
class Inbound:
    """A message from a person: a command or plain words."""

    conversation: ConversationRef
    user: str
    text: str
    delivery_id: str | None = None
    """The platform's id for this delivery, to drop redeliveries."""
    work: Delivery | None = field(default=None, compare=False, repr=False)
    """The job handling it, when a worker does: what it commits is fenced by the job."""


@dataclass(frozen=True)
class Click:
    """A button press (or a form submitted from one, with a reason)."""

    conversation: ConversationRef
    user: str
    action: str
    value: str
    reason: str = ""
    message: MessageRef | None = None
    delivery_id: str | None = None
    work: Delivery | None = field(default=None, compare=False, repr=False)
    """The job handling it, when a worker does: what it commits is fenced by the job."""


@dataclass(frozen=True)
class Reply:
    """What a handler answers directly; `private` goes to the asking person only."""

    card: Card
    private: bool = False
    replace: bool = False
    """Replace the clicked message with this card."""
    views_changed: bool = False
    """Who decides what changed (someone went away or came back): views of what waits for
    whom in the workspace (Slack's App Home) are refreshed."""
