"""Notices: what the orchestrator tells people. Delivered as jobs, rendered by handlers.

A notice names its kind and what it is about (an outcome, a step, an approval); what a
kind says besides carries as that kind's payload (`PAYLOADS`), a typed record that keeps
the JSON field names notices were always queued with, so a notice queued by an earlier
version still decodes. `Notice.on_outcome`, `on_step` and `on_approval` make the notice
about a record, so the commit that queues one says only what differs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from pydantic import (
    Field,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    field_serializer,
    model_serializer,
    model_validator,
)

from orchestrator.cases.stats import CaseStats
from orchestrator.models import (
    Approval,
    ConversationRef,
    Evaluation,
    Outcome,
    OutcomeStatus,
    Record,
    Step,
    Verdict,
)
from orchestrator.outcomes.session import Session


class NoticeKind(StrEnum):
    INTAKE = "intake"  # a question, a problem, or the Statement of Benefit to confirm
    STARTED = "started"
    PROGRESS = "progress"
    PLAN = "plan"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_DECIDED = "approval_decided"
    STEP_FINISHED = "step_finished"
    STEP_FAILED = "step_failed"
    ENDED = "ended"
    INCIDENT = "incident"
    CHAT = "chat"  # a chat-lane post
    CONTROL = "control"  # paused, resumed, stopped
    APPROVAL_REMINDER = "approval_reminder"  # an unanswered approval, reminded
    APPROVAL_ESCALATED = "approval_escalated"  # handed to the next person in the chain
    EFFECT_MEASURED = "effect_measured"  # a decided step's measured effect changed
    DIGEST = "digest"  # the weekly digest of one conversation


class NoticeData(Record):
    """What a notice carries besides its ids and text; this base carries nothing (the
    kinds that say all they say through the records they name). A field left `None` is
    left out of the JSON, as notices always left out what they did not say."""

    @model_serializer(mode="wrap")
    def _said(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {name: value for name, value in dumped.items() if value is not None}


class IntakeData(NoticeData):
    session: Session
    """The intake session as it stands: its question, its problem, or its Statement."""


class ProgressData(NoticeData):
    """The outcome's progress message (`started` carries nothing: it is drawn from the
    outcome as it is)."""

    evaluation: Evaluation | None = None
    """Where the outcome stands at its latest measurement."""
    cases: CaseStats | None = None
    """A standing outcome's case counts."""


class EndedData(NoticeData):
    evaluation: Evaluation
    """Where the outcome stood when it ended."""


class PlanData(NoticeData):
    steps: tuple[str, ...]
    """The steps the plan created, in order."""
    play: str = ""
    """The play they come from (a playbook's name, or the model's)."""
    rationale: str = ""
    """Why, in the play's (or the model's) words."""
    verdict: Verdict | None = None
    """The evaluation the plan answers."""
    around: tuple[str, ...] = ()
    """The rejected step a re-plan works around (its decision is shown), if any."""


class IncidentData(NoticeData):
    incident: str = "incident"
    """Its kind: an `IncidentKind` value, or a kind of its raiser's (`case_failed`)."""
    dedup_key: str | None = None
    """The page's dedup key when the raiser chose it; else one is made from the subject."""
    paged: bool | None = None
    """On-call was paged for it already (the chat side of a page)."""
    failures: int | None = None
    """How many failures in a row raised it."""
    step: str | None = None
    """The failing step."""
    case: str | None = None
    """The case it concerns."""

    def details(self) -> dict[str, Any]:
        """What the page carries besides its kind and dedup key."""
        return self.model_dump(exclude={"incident", "dedup_key", "paged"})


class ChatData(NoticeData):
    case: str | None = None
    """The case a post is about."""


class ControlData(NoticeData):
    by: str
    """Who paused, resumed or stopped the outcome."""
    status: OutcomeStatus
    """The status it moved to."""


class ReminderData(NoticeData):
    stand_ins: str | None = None
    """Who decides for approvers away ("bob for alice"), when someone does."""


class EscalatedData(NoticeData):
    to: str | None = None
    """The person of the on-call chain it was handed to; none left: on-call at large."""


class DigestData(NoticeData):
    outcomes: tuple[str, ...]
    """The active outcomes of the conversation, in order."""
    since: datetime
    """The start of the week the digest looks back on."""

    @field_serializer("since")
    def _iso(self, since: datetime) -> str:
        return since.isoformat()  # as digests were always queued ("+00:00", not "Z")


PAYLOADS: dict[NoticeKind, type[NoticeData]] = {
    NoticeKind.INTAKE: IntakeData,
    NoticeKind.STARTED: ProgressData,
    NoticeKind.PROGRESS: ProgressData,
    NoticeKind.PLAN: PlanData,
    NoticeKind.APPROVAL_REQUESTED: NoticeData,
    NoticeKind.APPROVAL_DECIDED: NoticeData,
    NoticeKind.STEP_FINISHED: NoticeData,
    NoticeKind.STEP_FAILED: NoticeData,
    NoticeKind.ENDED: EndedData,
    NoticeKind.INCIDENT: IncidentData,
    NoticeKind.CHAT: ChatData,
    NoticeKind.CONTROL: ControlData,
    NoticeKind.APPROVAL_REMINDER: ReminderData,
    NoticeKind.APPROVAL_ESCALATED: EscalatedData,
    NoticeKind.EFFECT_MEASURED: NoticeData,
    NoticeKind.DIGEST: DigestData,
}
"""The payload each kind carries."""

Data = TypeVar("Data", bound=NoticeData)


class Notice(Record):
    """Something to say in a conversation; handlers render it for the platform."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    """Names this notice's delivery, so a delivery run again makes each call once."""
    kind: NoticeKind
    conversation: ConversationRef
    outcome_id: str | None = None
    step_id: str | None = None
    approval_id: str | None = None
    text: str = ""
    data: SerializeAsAny[NoticeData] = Field(default_factory=NoticeData)
    """The kind's payload (`PAYLOADS`)."""

    @model_validator(mode="before")
    @classmethod
    def _typed_data(cls, raw: Any) -> Any:
        """Read a queued notice's `data` (JSON; none: nothing) as its kind's payload."""
        if not isinstance(raw, dict) or not isinstance(raw.get("data", {}), dict):
            return raw
        try:
            shape = PAYLOADS[NoticeKind(raw["kind"])]
        except (KeyError, ValueError):
            return raw  # no kind, or an unknown one: the field's own check says so
        return {**raw, "data": shape.model_validate(raw.get("data", {}))}

    @model_validator(mode="after")
    def _kind_carries_its_data(self) -> Notice:
        shape = PAYLOADS[self.kind]
        if type(self.data) is not shape:
            raise ValueError(f"a {self.kind} notice carries {shape.__name__}")
        return self

    def carried(self, shape: type[Data]) -> Data:
        """The payload, as the `shape` its kind carries."""
        if not isinstance(self.data, shape):
            raise TypeError(f"a {self.kind} notice carries {type(self.data).__name__}")
        return self.data

    @classmethod
    def on_outcome(
        cls,
        kind: NoticeKind,
        outcome: Outcome,
        *,
        text: str = "",
        data: NoticeData | None = None,
        step_id: str | None = None,
        approval_id: str | None = None,
    ) -> Notice:
        """A notice about `outcome` (one of its steps, its approval), said where it talks;
        without `data`, what the kind carries when it says nothing more."""
        return cls(
            kind=kind,
            conversation=outcome.conversation,
            outcome_id=outcome.id,
            step_id=step_id,
            approval_id=approval_id,
            text=text,
            data=data if data is not None else PAYLOADS[kind](),
        )

    @classmethod
    def on_step(
        cls,
        kind: NoticeKind,
        outcome: Outcome,
        step: Step,
        *,
        text: str = "",
        data: NoticeData | None = None,
    ) -> Notice:
        """A notice about `step` of `outcome`."""
        return cls.on_outcome(kind, outcome, text=text, data=data, step_id=step.id)

    @classmethod
    def on_approval(
        cls, kind: NoticeKind, outcome: Outcome, approval: Approval, data: NoticeData | None = None
    ) -> Notice:
        """A notice about `approval` of `outcome` (and its step)."""
        return cls.on_outcome(
            kind, outcome, data=data, step_id=approval.step_id, approval_id=approval.id
        )


class Notifier(Protocol):
    """The port through which notices reach people (implemented in handlers/)."""

    async def deliver(self, notice: Notice) -> None: ...
