"""The chat gateway: the outbound port to a chat platform."""

from __future__ import annotations

from typing import Protocol

from orchestrator.models import ConversationRef, MessageRef

from handlers.cards import Card


class ChatGateway(Protocol):
    async def send(self, *, conversation: ConversationRef, card: Card) -> MessageRef:
        """Post a card; returns a reference to update it later."""
        ...

    async def update(self, *, ref: MessageRef, card: Card) -> None:
        """Replace a posted card in place, for everyone."""
        ...

    async def send_private(self, *, conversation: ConversationRef, user: str, card: Card) -> None:
        """Show a card to one person only."""
        ...

    async def upload_image(
        self, *, conversation: ConversationRef, title: str, png: bytes, alt: str = ""
    ) -> None:
        """Post a picture; `alt` says what it shows, for screen readers and clients that
        show no images."""
        ...
