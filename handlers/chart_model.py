"""What a chart is to the rest of Baton (a picture and its alt text), and what drawing one
outcome's chart reads: the outcome, its workspace and metric, the moment, the window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orchestrator.models import Outcome
from orchestrator.workspace.catalog import Metric, Workspace


@dataclass(frozen=True)
class Chart:
    """A picture and the words a screen reader says in its place."""

    png: bytes
    alt: str


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    full: bool
    """The whole way from start to deadline is shown."""


@dataclass(frozen=True)
class Context:
    outcome: Outcome
    workspace: Workspace
    metric: Metric
    name: str
    now: datetime
