"""Incidents: operational exceptions routed to the outcome's conversation and to on-call.

An incident is posted as an `INCIDENT` notice and paged through a `Pager` as a `page`
job, so a pager that is down is retried like any other job. Each incident names its
kind, its outcome, what happened and its section of RUNBOOK.md.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from orchestrator.models import ConversationRef, Record
from orchestrator.notify.notices import IncidentData, Notice, NoticeKind

RUNBOOK = "RUNBOOK.md"


class IncidentKind(StrEnum):
    """One section of RUNBOOK.md each; the value is the section's anchor."""

    METRIC_SOURCE_DOWN = "metric_source_down"
    JOB_DEAD_LETTERED = "job_dead_lettered"
    PLANNER_UNAVAILABLE = "planner_unavailable"
    ACTION_FAILING = "action_failing"
    APPROVAL_ESCALATED = "approval_escalated"
    CHAT_UNAVAILABLE = "chat_unavailable"
    """A chat channel's platform has been failing for minutes; its messages wait in order."""


class Incident(Record):
    """What a page carries."""

    kind: str
    """An `IncidentKind` value (kept a string so a newer kind still pages)."""
    workspace: str
    outcome_id: str | None
    what: str
    """What happened, in one or two sentences, never a secret."""
    dedup_key: str
    """The same problem pages once; a resolve with this key closes it."""
    action: Literal["trigger", "resolve"] = "trigger"
    at: datetime
    details: dict[str, Any] = {}

    @property
    def runbook(self) -> str:
        return f"{RUNBOOK}#{self.kind.replace('_', '-')}"


def dedup_key(kind: str, subject: str) -> str:
    return f"baton:{kind}:{subject}"


def from_notice(notice: Notice, workspace: str, at: datetime) -> Incident:
    """The page for an incident notice raised anywhere in the core."""
    said = notice.carried(IncidentData)
    kind = said.incident
    subject = notice.outcome_id or notice.conversation.key
    return Incident(
        kind=kind,
        workspace=workspace,
        outcome_id=notice.outcome_id,
        what=notice.text or kind.replace("_", " "),
        dedup_key=said.dedup_key or dedup_key(kind, subject),
        at=at,
        details=said.details(),
    )


def incident_notice(
    incident: Incident, conversation: ConversationRef, *, step_id: str | None = None
) -> Notice:
    """The chat side of an incident (handlers render it with its runbook pointer)."""
    return Notice(
        kind=NoticeKind.INCIDENT,
        conversation=conversation,
        outcome_id=incident.outcome_id,
        step_id=step_id,
        text=incident.what,
        data=IncidentData(incident=incident.kind, dedup_key=incident.dedup_key, paged=True),
    )
