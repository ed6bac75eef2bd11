"""Notices: what the orchestrator tells people. Delivered as jobs, rendered by handlers."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Protocol

from pydantic import Field

from orchestrator.models import ConversationRef, Record


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
    data: dict[str, Any] = Field(default_factory=dict)


class Notifier(Protocol):
    """The port through which notices reach people (implemented in handlers/)."""

    async def deliver(self, notice: Notice) -> None: ...
