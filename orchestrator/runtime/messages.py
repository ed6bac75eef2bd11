"""Every kind of work the core does, as the message of a job.

A job is one of these messages, queued (`JobQueue`) and handled by a worker that
dispatches by the message's class (`orchestrator.runtime.dispatch`). `KIND` is the name a
job carries in Redis, and `payload()` its fields there: both are a wire format shared
with processes of other versions during a rolling restart, so they never change
meaning. The chat platforms' own kinds live beside their code in bot/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from orchestrator.notify.incidents import Incident
from orchestrator.notify.notices import Notice


class Message(BaseModel):
    """What a job asks for, as typed data; a subclass per kind of job."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    """Frozen; fields a newer version adds are ignored, so both versions read each other."""

    KIND: ClassVar[str]
    """The job's kind in Redis (`{"kind": ..., "payload": ...}`)."""

    def payload(self) -> dict[str, Any]:
        """The job's payload in Redis: fields left at their default are left out."""
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        """The message a job's payload holds (pydantic's `ValidationError` if it does not)."""
        return cls.model_validate(payload)


class Scheduled(Message):
    """A message the clock also queues on a cron schedule (`orchestrator.runtime.scheduler`)."""

    cron: str | None = None
    """The cron entry that queued it, if one did."""
    at: str | None = None
    """The minute it was queued for (`%Y%m%dT%H%M`), if by the clock."""


class Tick(Message):
    """Measure an outcome, evaluate it and plan its next steps (`Loop.tick`)."""

    KIND: ClassVar[str] = "tick"
    outcome: str
    replan: bool = False
    """Queued by a decision: the plan may change (a note for traces; every tick plans)."""


class Execute(Message):
    """Run an approved or autonomous step through its connector (`Executor.execute`)."""

    KIND: ClassVar[str] = "execute"
    step: str
    outcome: str | None = None
    """The step's outcome, so the two are read at once."""
    watchdog: bool = False
    """Queued by the watchdog of a step whose run outlived the visibility timeout."""


class Notify(Message):
    """Deliver a notice to the people it is for (`Notifier.deliver`)."""

    KIND: ClassVar[str] = "notify"
    notice: Notice

    def payload(self) -> dict[str, Any]:
        return self.notice.model_dump(mode="json")  # the notice itself is the payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(notice=Notice.model_validate(payload))


class Page(Message):
    """Page on-call about an incident, or resolve its page (`Pager.page`)."""

    KIND: ClassVar[str] = "page"
    incident: Incident

    def payload(self) -> dict[str, Any]:
        return self.incident.model_dump(mode="json")  # the incident itself is the payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(incident=Incident.model_validate(payload))


class AdvanceIntake(Message):
    """Carry a stated outcome's intake on after its statement (`Intake.advance`)."""

    KIND: ClassVar[str] = "intake"
    session: str


class ExpireApproval(Message):
    """Decide an approval nobody decided by its deadline, by its policy's default."""

    KIND: ClassVar[str] = "approval_timeout"
    approval: str


class RemindApprovers(Message):
    """Remind an approval's approvers that it waits for them."""

    KIND: ClassVar[str] = "approval_remind"
    approval: str


class EscalateApproval(Message):
    """Escalate an approval that still waits, to on-call."""

    KIND: ClassVar[str] = "approval_escalate"
    approval: str


class NameStandIns(Message):
    """Name on an approval's card who decides for its approvers that are away."""

    KIND: ClassVar[str] = "approval_stand_ins"
    approval: str


class PostDigest(Scheduled):
    """Post the weekly digest of every outcome."""

    KIND: ClassVar[str] = "digest"


class ArchiveBatch(Scheduled):
    """Move what the loop no longer needs from Redis to the history store, a batch."""

    KIND: ClassVar[str] = "archive"


class RunCase(Message):
    """Carry a standing outcome's case on through its playbook (`Cases.run`)."""

    KIND: ClassVar[str] = "case"
    case: str


class ClimbCaseSla(Message):
    """Climb a rung of a case's SLA ladder (a reminder, then a page)."""

    KIND: ClassVar[str] = "case_sla"
    case: str
    rung: str


class PollCaseSource(Message):
    """Read a workspace's SQL case source for new and changed cases."""

    KIND: ClassVar[str] = "case_poll"
    workspace: str
    source: str


CORE: tuple[type[Message], ...] = (
    Tick,
    Execute,
    Notify,
    Page,
    AdvanceIntake,
    ExpireApproval,
    RemindApprovers,
    EscalateApproval,
    NameStandIns,
    PostDigest,
    ArchiveBatch,
    RunCase,
    ClimbCaseSla,
    PollCaseSource,
)
"""Every job the core queues, as its messages."""
