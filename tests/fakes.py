"""Fakes that implement the real ports."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from handlers.cards import Card
from orchestrator.models import (
    ConversationRef,
    Direction,
    Lane,
    MessageRef,
    Outcome,
    Step,
    StepStatus,
)
from orchestrator.notify import deliveries
from orchestrator.notify.deliveries import Answer


@dataclass
class Sent:
    ref: MessageRef
    card: Card
    updates: list[Card] = field(default_factory=list)

    @property
    def current(self) -> Card:
        return self.updates[-1] if self.updates else self.card


class RecordingGateway:
    """A `ChatGateway` that remembers everything it was asked to show. Like the real
    gateways, inside a delivery each call goes through its call log, so a delivery run
    again makes no call twice."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.sent: list[Sent] = []
        self.private: list[tuple[str, Card]] = []
        self.images: list[tuple[str, bytes]] = []
        self.alts: list[str] = []

    async def _once(self, where: ConversationRef, make: Callable[[], Answer]) -> Answer:
        calls = deliveries.current()
        if calls is None:
            return make()

        async def call(name: str) -> Answer:
            return make()

        return await calls.call(f"test:{where.channel}", call)

    async def send(self, *, conversation: ConversationRef, card: Card) -> MessageRef:
        def post() -> Answer:
            ref = MessageRef(conversation=conversation, message_id=str(next(self._ids)))
            self.sent.append(Sent(ref, card))
            return {"message_id": ref.message_id}

        answer = await self._once(conversation, post)
        return MessageRef(conversation=conversation, message_id=str(answer["message_id"]))

    async def update(self, *, ref: MessageRef, card: Card) -> None:
        def edit() -> Answer:
            for sent in self.sent:
                if sent.ref == ref:
                    sent.updates.append(card)
                    return {}
            raise AssertionError(f"update of a message never sent: {ref}")

        await self._once(ref.conversation, edit)

    async def send_private(self, *, conversation: ConversationRef, user: str, card: Card) -> None:
        def whisper() -> Answer:
            self.private.append((user, card))
            return {}

        await self._once(conversation, whisper)

    async def upload_image(
        self, *, conversation: ConversationRef, title: str, png: bytes, alt: str = ""
    ) -> None:
        def upload() -> Answer:
            self.images.append((title, png))
            self.alts.append(alt)
            return {}

        await self._once(conversation, upload)

    def titles(self) -> list[str]:
        return [s.current.title for s in self.sent]

    def buttons(self, action: str) -> list[str]:
        """Values of `action` buttons on cards as they are now."""
        return [b.value for s in self.sent for b in s.current.buttons if b.action == action]


OUTCOME_START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def an_outcome(**update: object) -> Outcome:
    """A confirmed churn outcome (o1 in T1, owned by olivia, approved by alice), with
    `update` applied: the record store-level tests start from."""
    base = Outcome(
        id="o1",
        workspace="T1",
        objective="cut churn",
        metric="churn_rate",
        direction=Direction.DECREASE,
        baseline=8.0,
        target=6.0,
        started_at=OUTCOME_START,
        deadline=OUTCOME_START + timedelta(days=80),
        owner="olivia",
        approvers=("alice",),
        conversation=ConversationRef(platform="test", workspace="T1", channel="C1"),
    )
    return base.model_copy(update=update)


def a_step(status: StepStatus = StepStatus.PLANNED) -> Step:
    """Step s1 of `an_outcome()`, a systems-lane `send`, in `status`."""
    return Step(
        id="s1",
        outcome_id="o1",
        workspace="T1",
        action="send",
        lane=Lane.SYSTEMS,
        created_at=OUTCOME_START,
        status=status,
    )
