"""Where an outcome stands against the straight line from baseline to target."""

from __future__ import annotations

from datetime import datetime

from orchestrator.models import Direction, Evaluation, Outcome, OutcomeKind, Verdict

AT_RISK_SHARE = 0.10
"""Behind the line by at most this share of the whole distance is `at_risk`, not `off_track`."""


def met(direction: Direction, value: float, target: float) -> bool:
    return value <= target if direction is Direction.DECREASE else value >= target


def expected_at(outcome: Outcome, now: datetime) -> float:
    span = (outcome.deadline - outcome.started_at).total_seconds()
    elapsed = (now - outcome.started_at).total_seconds()
    share = 1.0 if span <= 0 else min(max(elapsed / span, 0.0), 1.0)
    return outcome.baseline + (outcome.target - outcome.baseline) * share


def evaluate(outcome: Outcome, value: float, now: datetime) -> Evaluation:
    if outcome.kind is OutcomeKind.STANDING:
        return evaluate_standing(outcome, value)
    expected = expected_at(outcome, now)
    distance = outcome.target - outcome.baseline
    progress = 1.0 if distance == 0 else (value - outcome.baseline) / distance
    progress = min(max(progress, 0.0), 1.0)
    if met(outcome.direction, value, outcome.target):
        verdict = Verdict.ACHIEVED
    elif now >= outcome.deadline:
        verdict = Verdict.MISSED
    elif met(outcome.direction, value, expected):
        verdict = Verdict.ON_TRACK
    elif abs(value - expected) <= abs(distance) * AT_RISK_SHARE:
        verdict = Verdict.AT_RISK
    else:
        verdict = Verdict.OFF_TRACK
    return Evaluation(value=value, expected=expected, progress=progress, verdict=verdict)


AT_RISK_POINTS = 5.0
"""A standing outcome below its target share by at most this many points is `at_risk`."""


def evaluate_standing(outcome: Outcome, share: float) -> Evaluation:
    """The share of cases within SLA against the target share. A standing outcome holds
    indefinitely: meeting its target keeps it on track, it is never achieved or missed."""
    progress = 1.0 if outcome.target <= 0 else min(max(share / outcome.target, 0.0), 1.0)
    if share >= outcome.target:
        verdict = Verdict.ON_TRACK
    elif share >= outcome.target - AT_RISK_POINTS:
        verdict = Verdict.AT_RISK
    else:
        verdict = Verdict.OFF_TRACK
    return Evaluation(value=share, expected=outcome.target, progress=progress, verdict=verdict)
