"""An intake session: one statement on its way to an outcome, the question it asks and the
problem it found. What the intake notice carries; `intake` moves it on."""

from __future__ import annotations

from enum import StrEnum

from orchestrator.models import ConversationRef, Direction, Record
from orchestrator.outcomes.parser import Draft


class Question(StrEnum):
    METRIC = "metric"
    PERCENT = "percent"
    DEADLINE = "deadline"
    TARGET = "target"


class Problem(StrEnum):
    NOTHING_UNDERSTOOD = "nothing_understood"
    UNKNOWN_METRIC = "unknown_metric"
    WRONG_DIRECTION = "wrong_direction"
    ALREADY_MET = "already_met"
    DEADLINE_PAST = "deadline_past"
    DEADLINE_INVALID = "deadline_invalid"
    MEASURE_FAILED = "measure_failed"
    UNKNOWN_CASES = "unknown_cases"
    OUT_OF_BOUNDS = "out_of_bounds"
    FAR_BEYOND = "far_beyond"


class Session(Record):
    """One intake conversation."""

    id: str
    workspace: str
    conversation: ConversationRef
    owner: str
    draft: Draft
    asking: Question | None = None
    problem: Problem | None = None
    problem_detail: str = ""
    model_down: str = ""
    """Why the model could not read the statement (it was down or over budget), if so."""
    baseline: float | None = None
    target: float | None = None
    direction: Direction | None = None
    ready: bool = False
    interpreted: bool = False
    """The interpreter has seen the statement (it is asked once per session)."""
