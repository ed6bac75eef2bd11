"""The deterministic parser: at least 40 phrasings, ambiguous and nonsense ones included."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.models import Direction
from orchestrator.outcomes.parser import Change, Draft, parse
from orchestrator.workspace.catalog import Workspace

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
DOWN, UP = Direction.DECREASE, Direction.INCREASE

CASES: list[tuple[str, dict[str, object]]] = [
    (
        "Reduce monthly churn from 8% to 5% by 31 March",
        {
            "metric": "churn_rate",
            "direction": DOWN,
            "change": Change.TO,
            "amount": 5.0,
            "stated_baseline": 8.0,
            "deadline": date(2027, 3, 31),
        },
    ),
    (
        "Reduce churn by 10% by 31 March",
        {"metric": "churn_rate", "change": Change.PERCENT_AMBIGUOUS, "amount": 10.0},
    ),
    (
        "cut churn by 2 points by end of Q1",
        {"change": Change.POINTS, "amount": 2.0, "deadline": date(2027, 3, 31)},
    ),
    (
        "cut churn by 2 percentage points this quarter",
        {"change": Change.POINTS, "amount": 2.0, "deadline": date(2027, 3, 31)},
    ),
    (
        "lower churn rate by 1.5pp by 2027-06-30",
        {"change": Change.POINTS, "amount": 1.5, "deadline": date(2027, 6, 30)},
    ),
    (
        "Reduce churn by 10% relative by March 31",
        {"change": Change.RELATIVE, "amount": 10.0, "deadline": date(2027, 3, 31)},
    ),
    (
        "Keep churn below 5% this month",
        {"direction": DOWN, "change": Change.TO, "amount": 5.0, "deadline": date(2027, 1, 31)},
    ),
    (
        "keep churn under 6 percent by end of February",
        {"direction": DOWN, "amount": 6.0, "deadline": date(2027, 2, 28)},
    ),
    (
        "Get churn down to 4% within 6 weeks",
        {"direction": None, "change": Change.TO, "amount": 4.0, "deadline": date(2027, 2, 15)},
    ),
    (
        "bring down attrition to 5% in 3 months",
        {"metric": "churn_rate", "direction": DOWN, "deadline": date(2027, 4, 4)},
    ),
    (
        "Halve churn by the end of the year",
        {"change": Change.RELATIVE, "amount": 50.0, "deadline": date(2027, 12, 31)},
    ),
    (
        "Reduce the number of at-risk customers by 20% by March",
        {
            "metric": "at_risk_customers",
            "change": Change.RELATIVE,
            "amount": 20.0,
            "deadline": date(2027, 3, 31),
        },
    ),
    (
        "reduce at risk customers to 30 by 15 Feb",
        {
            "metric": "at_risk_customers",
            "change": Change.TO,
            "amount": 30.0,
            "deadline": date(2027, 2, 15),
        },
    ),
    (
        "Cut the support backlog by 25 by end of month",
        {
            "metric": "open_tickets",
            "change": Change.POINTS,
            "amount": 25.0,
            "deadline": date(2027, 1, 31),
        },
    ),
    (
        "cut open tickets under 10 by next month",
        {"metric": "open_tickets", "amount": 10.0, "deadline": date(2027, 2, 28)},
    ),
    (
        "Increase MRR by 5% by end of Q2",
        {
            "metric": "mrr",
            "direction": UP,
            "change": Change.RELATIVE,
            "amount": 5.0,
            "deadline": date(2027, 6, 30),
        },
    ),
    (
        "Grow revenue to 50k by 2027-09-30",
        {"metric": "mrr", "direction": UP, "change": Change.TO, "amount": 50_000.0},
    ),
    (
        "raise monthly recurring revenue by 2,000 this quarter",
        {"metric": "mrr", "direction": UP, "change": Change.POINTS, "amount": 2000.0},
    ),
    (
        "double revenue by next year",
        {
            "metric": "mrr",
            "change": Change.RELATIVE,
            "amount": 100.0,
            "deadline": date(2028, 12, 31),
        },
    ),
    (
        "Boost MRR above 60000 by the end of June",
        {"metric": "mrr", "direction": UP, "amount": 60_000.0, "deadline": date(2027, 6, 30)},
    ),
    ("Reduce churn to 5% by 31st of March 2027", {"deadline": date(2027, 3, 31)}),
    ("reduce churn to 5% by March 31st, 2028", {"deadline": date(2028, 3, 31)}),
    ("reduce churn to 5% before 1 January", {"deadline": date(2028, 1, 1)}),
    ("reduce churn to 5% by Q3", {"deadline": date(2027, 9, 30)}),
    ("reduce churn to 5% by end of Q4 2027", {"deadline": date(2027, 12, 31)}),
    ("reduce churn to 5% within two weeks", {"deadline": date(2027, 1, 18)}),
    ("reduce churn to 5% in 10 days", {"deadline": date(2027, 1, 14)}),
    ("reduce churn to 5% over the next 2 months", {"deadline": date(2027, 3, 4)}),
    ("reduce churn to 5% by next quarter", {"deadline": date(2027, 6, 30)}),
    ("Reduce churn to 5% by 31 March with a budget of £500", {"budget": 500.0, "amount": 5.0}),
    ("Reduce churn to 5% by 31 March, budget 1.5k", {"budget": 1500.0}),
    ("Reduce churn to 5% by 31 March spending up to $250", {"budget": 250.0}),
    ("Reduce churn to 5% by 31 March, approvers @alice and @bob", {"approvers": ("alice", "bob")}),
    ("reduce churn to 5% by 31 March approved by <@U123ABC>", {"approvers": ("U123ABC",)}),
    ("Reduce churn to 5% by 31 March in shadow mode", {"shadow": True, "amount": 5.0}),
    ("reduce churn to 5% by 31 march as a dry run", {"shadow": True}),
    ("REDUCE CHURN TO 5% BY 31 MARCH", {"metric": "churn_rate", "amount": 5.0}),
    (
        "Reduce it by 10% by March",
        {"metric": None, "change": Change.PERCENT_AMBIGUOUS, "amount": 10.0},
    ),
    ("make things better", {"metric": None, "amount": None, "deadline": None}),
    ("asdf qwerty", {"metric": None, "direction": None, "amount": None}),
    ("", {"metric": None, "amount": None}),
    ("Reduce churn", {"metric": "churn_rate", "direction": DOWN, "amount": None, "deadline": None}),
    ("Reduce churn by 31 February", {"deadline": None, "deadline_invalid": True}),
    (
        "reduce churn and mrr by 5% by March",
        {"metric": None, "metric_candidates": ("churn_rate", "mrr")},
    ),
    ("increase churn to 12% by March", {"metric": "churn_rate", "direction": UP}),
    ("Lower churn to 7,5% by 31 March", {"amount": 7.5}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] or "empty" for c in CASES])
def test_phrasings(text: str, expected: dict[str, object], workspace: Workspace) -> None:
    draft = parse(text, workspace, NOW)
    for name, want in expected.items():
        got = getattr(draft, name)
        if name == "deadline" and got is not None:
            got = got.date()
        assert got == want, f"{name}: {got!r} != {want!r} in {draft!r}"


def test_percent_on_a_count_metric_is_relative(workspace: Workspace) -> None:
    draft = parse("reduce open tickets by 20% by March", workspace, NOW)
    assert draft.change is Change.RELATIVE


def test_nothing_understood_is_reported(workspace: Workspace) -> None:
    assert not parse("hello there", workspace, NOW).understood_anything
    assert parse("reduce churn", workspace, NOW).understood_anything


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_any_text(workspace: Workspace, text: str) -> None:
    assert isinstance(parse(text, workspace, NOW), Draft)
