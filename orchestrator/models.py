"""Domain records: typed data with a docstring on every field's meaning.

Records are immutable pydantic models; a change is a new copy written through a
compare-and-set transition in the store.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Direction(StrEnum):
    """Which way is better for a metric."""

    DECREASE = "decrease"
    INCREASE = "increase"


class OutcomeKind(StrEnum):
    """A target to reach by a deadline, or a rule that must hold for every case."""

    TARGET = "target"
    STANDING = "standing"


class OutcomeStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ACHIEVED = "achieved"
    MISSED = "missed"
    STOPPED = "stopped"


class StepStatus(StrEnum):
    PLANNED = "planned"  # waiting for the steps it depends on
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"  # by policy (auto) or by a person; ready to execute
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FORBIDDEN = "forbidden"
    CANCELLED = "cancelled"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Verdict(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    ACHIEVED = "achieved"
    MISSED = "missed"


class Lane(StrEnum):
    INTELLIGENCE = "intelligence"
    LOGIC = "logic"
    SYSTEMS = "systems"
    JUDGMENT = "judgment"


class ConversationRef(Record):
    """Where an outcome talks: a platform, a channel and optionally a thread."""

    platform: str
    """`console`, `slack` or `teams`."""
    workspace: str
    """Slack team id, Teams tenant id, or `local` for the console."""
    channel: str
    """Channel or conversation id."""
    thread: str | None = None
    """Thread (Slack `thread_ts`) when the conversation is threaded."""

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}:{self.thread or '-'}"


class MessageRef(Record):
    """A message Baton posted and may update in place."""

    conversation: ConversationRef
    message_id: str
    """Slack `ts`, Teams activity id, console sequence number."""


class Outcome(Record):
    """A Statement of Benefit under orchestration."""

    id: str
    workspace: str
    objective: str
    """The owner's own words."""
    metric: str
    direction: Direction
    baseline: float
    """Measured at confirmation."""
    target: float
    """In metric units."""
    started_at: datetime
    deadline: datetime
    owner: str
    approvers: tuple[str, ...]
    conversation: ConversationRef
    budget: float = 0.0
    """Money the outcome's steps may spend, in the workspace currency."""
    check_every_s: int = 86_400
    """Seconds between ticks."""
    shadow: bool = False
    """Plan and govern, record what would run, write nothing external."""
    status: OutcomeStatus = OutcomeStatus.ACTIVE
    ended_at: datetime | None = None
    kind: OutcomeKind = OutcomeKind.TARGET
    case_playbook: str = ""
    """Standing outcomes: the case playbook every case of its source runs."""
    sla_s: int = 0
    """Standing outcomes: each case is due this many seconds after it arrived."""


class Measurement(Record):
    """One reading of an outcome's metric."""

    value: float
    at: datetime


class Evaluation(Record):
    """Where an outcome stands against its straight line."""

    value: float
    expected: float
    progress: float
    """0..1 share of the distance from baseline to target covered."""
    verdict: Verdict


class Holdout(Record):
    """A step's control group: the share of its audience held back and never touched, so
    its incremental effect can be measured. Recorded with the step when it is governed."""

    experiment: str
    """What the assignment hashes with each entity id: the same audience splits the same."""
    key: str
    """The row field holding the entity id."""
    share: float
    """The share of the audience policy asked to hold back (0: opted out)."""
    treated: tuple[int | str, ...] = ()
    control: tuple[int | str, ...] = ()
    reason: str = ""
    """Why nothing is held back (opted out, audience too small): not measured causally."""
    pre: dict[str, float] = Field(default_factory=dict)
    """Treated and control members' values of the metric when the step was governed, by
    id: the pre-period values a CUPED adjustment uses."""
    segments: dict[str, str] = Field(default_factory=dict)
    """Each treated and control member's segment (the action's `segment` field), by id;
    empty when the action names no segment."""

    @property
    def measured(self) -> bool:
        return bool(self.control)


class Effect(Record):
    """A step's incremental effect: treated against control, with a 95% interval."""

    status: str
    """`measured`, or `not_enough_data` (no number is claimed)."""
    treated: int
    control: int
    method: str = ""
    """`difference of proportions`, `difference of means` or `CUPED`."""
    per_entity: float | None = None
    low: float | None = None
    high: float | None = None
    on_metric: float | None = None
    """The effect translated into the outcome's metric (e.g. points of churn)."""
    metric_low: float | None = None
    metric_high: float | None = None
    at: datetime | None = None
    early: bool = False
    """Read before the effect window ended (the outcome ended first)."""
    segments: dict[str, Effect] = Field(default_factory=dict)
    """The same estimate within each segment of the audience, by segment value."""


class Step(Record):
    """One planned use of an action for one outcome."""

    id: str
    outcome_id: str
    workspace: str
    action: str
    lane: Lane
    params: dict[str, Any] = Field(default_factory=dict)
    rationale: str = ""
    expected_impact: str = ""
    play: str = ""
    """The playbook play (or LLM plan) this step belongs to."""
    depends_on: str | None = None
    """A step whose output this one uses."""
    cost: float = 0.0
    audience: int = 0
    """How many customers the step reaches, once known."""
    decision: str = ""
    """Policy's word: auto, approve or forbid, with the rule that said it."""
    status: StepStatus = StepStatus.PLANNED
    created_at: datetime
    finished_at: datetime | None = None
    output: dict[str, Any] = Field(default_factory=dict)
    """What the step produced: rows, a drafted artifact, a connector receipt."""
    error: str = ""
    value_at_finish: float | None = None
    effect: float | None = None
    """Metric movement since the step finished (verification)."""
    shadow: bool = False
    case_id: str | None = None
    """The case of a standing outcome this step belongs to (a step a person decides)."""
    holdout: Holdout | None = None
    """The control group held back from its audience, when it acts on one."""
    incremental: Effect | None = None
    """Its incremental effect against the control group, once its window has passed."""


class Vote(Record):
    """One person's decision on an approval that needs several."""

    voter: str
    """Who clicked."""
    counts_for: str
    """Whose vote it is: the voter, or the approver the voter stands in for."""
    approve: bool
    at: datetime


class Edit(Record):
    """An approver's correction of a step before approving it: what it was, what it is."""

    by: str
    at: datetime
    params_before: dict[str, Any] = Field(default_factory=dict)
    params_after: dict[str, Any] = Field(default_factory=dict)
    draft_before: str | None = None
    draft_after: str | None = None


class Approval(Record):
    """A request for a human decision on a step: a fixed spec and a changing status."""

    id: str
    step_id: str
    outcome_id: str
    workspace: str
    what: str
    why: str
    expected_impact: str
    cost: float
    approvers: tuple[str, ...]
    escalation: tuple[str, ...] = ()
    requested_at: datetime
    deadline: datetime
    on_timeout: str = "deny"
    """What happens at the deadline: `deny` or `approve`."""
    status: ApprovalStatus = ApprovalStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""
    evidence: dict[str, float] = Field(default_factory=dict)
    """What earlier runs of the same action and parameters measured, pooled: `runs`,
    `effect`, `low`, `high` (in the metric, per 100 entities treated); empty if none."""
    segment_evidence: dict[str, dict[str, float]] = Field(default_factory=dict)
    """The same per segment of the action's audience, by segment value."""
    needed: int = 1
    """How many different people must approve (the policy's quorum, `all` resolved to the
    number of approvers when requested); one is a single approver's click."""
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Groups that must each give one approval: name to members, as the workspace file
    said when the approval was requested."""
    votes: tuple[Vote, ...] = ()
    """The decisions given so far, in order; any rejection decides the approval."""
    stand_ins: dict[str, str] = Field(default_factory=dict)
    """Approvers away, to who decides for them, as last shown on the card."""
    edits: tuple[Edit, ...] = ()
    """Corrections made before approving; the step holds the corrected version."""


class AuditEvent(Record):
    """An append-only record of a transition, chained by hash per workspace."""

    seq: int
    at: datetime
    workspace: str
    actor: str
    """A person's id, `agent`, `policy` or `system`."""
    action: str
    subject: str
    """The record the event is about, for example `step:s3`."""
    outcome_id: str | None = None
    before: str | None = None
    after: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    prev: str = ""
    hash: str = ""


class CaseStatus(StrEnum):
    RECEIVED = "received"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"
    REJECTED = "rejected"  # a person said no to one of its steps
    FAILED = "failed"  # a step failed, or policy forbade it
    CANCELLED = "cancelled"


class CaseStepState(Record):
    """Where one step of a case's playbook stands."""

    action: str
    status: str = "pending"
    """`pending`, `succeeded`, `awaiting_approval`, `failed` or `rejected`."""
    decision: str = ""
    """Policy's word, as for a step: auto or approve, with the rule that said it."""
    step_id: str | None = None
    """The `Step` record of a step a person decides (auto steps have none)."""
    finished_at: datetime | None = None
    error: str = ""


class Case(Record):
    """One case of a standing outcome: a new row or an event, worked through a playbook."""

    id: str
    """The source's name and the case's external id: the same case never arrives twice."""
    outcome_id: str
    workspace: str
    source: str
    external_id: str
    data: dict[str, Any] = Field(default_factory=dict)
    """The row or event: the playbook's steps get these as parameters."""
    status: CaseStatus = CaseStatus.RECEIVED
    position: int = 0
    """The index of the next step to run."""
    steps: tuple[CaseStepState, ...] = ()
    draft: str = ""
    """The latest drafted artifact, for the steps after the one that drafted it."""
    received_at: datetime
    """When the case began (its source's timestamp when given): the SLA counts from here."""
    due_at: datetime
    first_step_at: datetime | None = None
    done_at: datetime | None = None
    error: str = ""
