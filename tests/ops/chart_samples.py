"""Outcomes with a known history, drawn by the chart tests and for the README's pictures."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config.workspace import load_workspace
from handlers.week_chart import WeekRow
from orchestrator.models import (
    ConversationRef,
    Direction,
    Lane,
    Measurement,
    Outcome,
    OutcomeKind,
    Step,
    StepStatus,
)
from orchestrator.workspace.catalog import Workspace

START = datetime(2026, 11, 2, 9, tzinfo=UTC)
WORKSPACE_FILE = Path(__file__).parents[2] / "config" / "demo" / "workspace.yaml"


@dataclass(frozen=True)
class Sample:
    outcome: Outcome
    measurements: list[Measurement]
    steps: list[Step]
    now: datetime


def workspace() -> Workspace:
    return load_workspace(WORKSPACE_FILE)


def _outcome(
    oid: str,
    metric: str,
    direction: Direction,
    baseline: float,
    target: float,
    days: int,
    kind: OutcomeKind = OutcomeKind.TARGET,
) -> Outcome:
    return Outcome(
        id=oid,
        workspace="T1",
        objective="",
        metric=metric,
        direction=direction,
        baseline=baseline,
        target=target,
        started_at=START,
        deadline=START + timedelta(days=days),
        owner="olivia",
        approvers=("alice",),
        conversation=ConversationRef(platform="slack", workspace="T1", channel="C1"),
        kind=kind,
    )


def _step(sid: str, oid: str, action: str, day: float, auto: bool) -> Step:
    at = START + timedelta(days=day)
    return Step(
        id=sid,
        outcome_id=oid,
        workspace="T1",
        action=action,
        lane=Lane.LOGIC,
        decision="auto: rule" if auto else "approve: owner",
        status=StepStatus.SUCCEEDED,
        created_at=at - timedelta(hours=2),
        finished_at=at,
    )


def _readings(values: list[float]) -> list[Measurement]:
    return [Measurement(value=v, at=START + timedelta(days=i)) for i, v in enumerate(values)]


def early_churn() -> Sample:
    """A week into a quarter: the chart shows the time so far and as much again ahead."""
    oid = "o-churn"
    values = [6.2, 6.2, 6.1, 5.9, 5.9, 5.7, 5.6, 5.5]
    steps = [
        _step("s1", oid, "find_at_risk", 1.2, True),
        _step("s2", oid, "send_winback", 3.5, False),
    ]
    return Sample(
        _outcome(oid, "churn_rate", Direction.DECREASE, 6.2, 4.0, 90),
        _readings(values),
        steps,
        START + timedelta(days=7, hours=3),
    )


def late_mrr() -> Sample:
    """Two thirds of the way: the whole span to the deadline, five steps, the last three keyed."""
    oid = "o-mrr"
    values = [48_000 + 160 * i + 900 * math.sin(i / 3) for i in range(41)]
    steps = [
        _step("s1", oid, "find_at_risk", 2, True),
        _step("s2", oid, "draft_winback", 9, True),
        _step("s3", oid, "send_winback", 16, False),
        _step("s4", oid, "offer_discount", 27, False),
        _step("s5", oid, "find_at_risk", 35, True),
    ]
    return Sample(
        _outcome(oid, "mrr", Direction.INCREASE, 48_000, 56_000, 60),
        _readings(values),
        steps,
        START + timedelta(days=40, hours=6),
    )


def standing_onboarding() -> Sample:
    """A standing outcome: a share to hold, no deadline, the last four weeks."""
    oid = "o-onb"
    values = [92 + 4 * math.sin(i / 4) for i in range(50)]
    steps = [_step(f"s{i}", oid, "find_at_risk", 30 + 4 * i, i % 2 == 0) for i in range(5)]
    return Sample(
        _outcome(
            oid, "onboarding_within_sla", Direction.INCREASE, 90, 95, 365, OutcomeKind.STANDING
        ),
        _readings(values),
        steps,
        START + timedelta(days=49, hours=2),
    )


def no_readings() -> Sample:
    oid = "o-new"
    return Sample(
        _outcome(oid, "open_tickets", Direction.DECREASE, 140, 80, 30),
        [],
        [],
        START + timedelta(hours=1),
    )


def _series(values: list[float], hours: float = 24) -> list[Measurement]:
    return [
        Measurement(value=v, at=START + timedelta(hours=i * hours)) for i, v in enumerate(values)
    ]


def day(days: float) -> datetime:
    return START + timedelta(days=days)


def edge_cases() -> dict[str, Sample]:
    """Histories that once put words on top of each other or outside the picture."""
    churn, mrr = early_churn(), late_mrr()
    short = churn.outcome.model_copy(update={"deadline": START + timedelta(days=10)})
    missed = churn.outcome.model_copy(update={"deadline": START + timedelta(days=20)})
    large = mrr.outcome.model_copy(update={"baseline": 4.8e6, "target": 5.6e6})
    everything = churn.outcome.model_copy(
        update={
            "metric": "onboarding_within_sla",
            "direction": Direction.INCREASE,
            "baseline": 92,
            "target": 99,
            "id": "o-long",
        }
    )
    together = [_step(f"s{i}", "o", "send_winback", 1 + i / 100, i % 2 == 0) for i in range(6)]
    return {
        "past the deadline": Sample(missed, _series([6.2, 6.1, 6.0, 5.9] * 6), [], day(25)),
        "flat": Sample(churn.outcome, _series([6.2] * 4), [], day(4)),
        "one reading": Sample(churn.outcome, _series([6.0]), [], day(5 / 24)),
        "projection at target": Sample(short, _series([6.2, 5.8, 5.4, 5.0, 4.6, 4.4]), [], day(6)),
        "millions": Sample(
            large, _series([4.8e6 + 1e4 * i for i in range(30)]), mrr.steps, day(30)
        ),
        "steps moments apart": Sample(
            churn.outcome, _series([6.2, 6.0, 5.9, 5.8]), together, day(3)
        ),
        "everything at once": Sample(
            everything, _series([92, 92.5, 93, 93.2, 93.9]), together[:5], day(5)
        ),
        "standing, no reading": Sample(standing_onboarding().outcome, [], [], day(3)),
    }


SAMPLES = {
    "status-early": early_churn,
    "status-late": late_mrr,
    "status-standing": standing_onboarding,
    "status-empty": no_readings,
}


def week_rows() -> tuple[list[WeekRow], datetime, datetime]:
    """Four outcomes as a Monday digest reads them: the week before `now`."""
    ws = workspace()
    samples = [early_churn(), late_mrr(), standing_onboarding(), no_readings()]
    now = START + timedelta(days=14)
    rows: list[WeekRow] = []
    for s in samples:
        readings = [m for m in s.measurements if m.at <= now] or s.measurements[:0]
        steps = [st for st in s.steps if st.finished_at and st.finished_at <= now]
        rows.append(WeekRow(s.outcome, ws, readings, steps))
    return rows, now - timedelta(days=7), now


REFERENCE = Path(__file__).parent / "reference"
DOCS = Path(__file__).parents[2] / "docs" / "charts"


def draw_all(folder: Path) -> dict[str, str]:
    """Every sample chart as `folder/<name>.png`; returns each picture's alt text."""
    from handlers.charts import outcome_chart
    from handlers.week_chart import week_chart

    folder.mkdir(parents=True, exist_ok=True)
    ws, alts = workspace(), {}
    for name, make in SAMPLES.items():
        s = make()
        chart = outcome_chart(s.outcome, ws, s.measurements, s.steps, now=s.now)
        (folder / f"{name}.png").write_bytes(chart.png)
        alts[name] = chart.alt
    rows, since, now = week_rows()
    week = week_chart(rows, since=since, now=now)
    (folder / "digest-week.png").write_bytes(week.png)
    alts["digest-week"] = week.alt
    return alts


if __name__ == "__main__":
    # Redraw the reference images and the README's pictures after a deliberate change.
    for target in (REFERENCE, DOCS):
        for name, alt in draw_all(target).items():
            print(f"{target / name}.png: {alt}")
