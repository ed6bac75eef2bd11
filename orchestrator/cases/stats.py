"""Where a standing outcome's cases stand: the counts its progress card and status show."""

from __future__ import annotations

from orchestrator.models import Record


class CaseStats(Record):
    """Where a standing outcome's cases stand."""

    done: int
    within: int
    """Done within their SLA."""
    failed: int
    """Rejected or failed: they will not be done."""
    open: int
    overdue: int
    """Unfinished and past their SLA already."""
    share: float
    """Percent of finished-or-overdue cases done within SLA (100 with none yet)."""
    median_s: float | None = None
    p95_s: float | None = None
