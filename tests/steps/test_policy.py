"""Deterministic governance, budgets and the straight-line evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.models import ConversationRef, Direction, Lane, Outcome, Step, Verdict
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.steps.policy import govern
from orchestrator.workspace.catalog import Action, Policy, Rule, Workspace

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def step(action: str = "offer_discount", **update: object) -> Step:
    return Step(
        id="s1", outcome_id="o1", workspace="T1", action=action, lane=Lane.SYSTEMS, created_at=NOW
    ).model_copy(update=update)


def decide(
    workspace: Workspace,
    the_step: Step,
    *,
    remaining: float = 500,
    today: int = 0,
    extra: tuple[Rule, ...] = (),
) -> tuple[str, str]:
    decision = govern(
        the_step,
        workspace.actions[the_step.action],
        workspace.policy,
        extra_rules=extra,
        remaining_budget=remaining,
        steps_today=today,
    )
    return decision.verdict, decision.rule


@pytest.mark.parametrize(
    ("the_step", "expected"),
    [
        (step("find_at_risk", lane=Lane.LOGIC), ("auto", "internal work runs itself")),
        (step("draft_winback", lane=Lane.INTELLIGENCE), ("auto", "drafts run themselves")),
        (step("send_winback", audience=40), ("approve", "customer contact needs a human")),
        (step(params={"percent": 10}, cost=120), ("auto", "small discounts run themselves")),
        (step(params={"percent": 20}, cost=240), ("approve", "default")),
        (step(params={"percent": 35}, cost=100), ("forbid", "no deep discounts")),
        (step("tell_account_managers"), ("auto", "team messages run themselves")),
    ],
)
def test_demo_policy(workspace: Workspace, the_step: Step, expected: tuple[str, str]) -> None:
    assert decide(workspace, the_step) == expected


def test_budget_and_rate_cap_forbid(workspace: Workspace) -> None:
    assert decide(workspace, step(params={"percent": 10}, cost=120), remaining=100) == (
        "forbid",
        "budget",
    )
    assert decide(workspace, step("find_at_risk", lane=Lane.LOGIC), today=20) == (
        "forbid",
        "rate cap",
    )


def test_strictest_matching_rule_wins_including_added_rules(workspace: Workspace) -> None:
    rule = Rule(name="ask before big audiences", audience_over=50, decide="approve")
    small = step("find_at_risk", lane=Lane.LOGIC, audience=10)
    large = step("find_at_risk", lane=Lane.LOGIC, audience=80)
    assert decide(workspace, small, extra=(rule,))[0] == "auto"
    assert decide(workspace, large, extra=(rule,)) == ("approve", "ask before big audiences")


def test_parameter_conditions_need_the_parameter() -> None:
    rule = Rule(name="r", decide="forbid", param="percent", op=">", value=10)
    action = Action(lane=Lane.LOGIC, description="x", function="query_rows")
    policy = Policy(default="auto", rules=(rule,))
    assert (
        govern(step(params={}), action, policy, remaining_budget=1, steps_today=0).verdict == "auto"
    )
    assert (
        govern(
            step(params={"percent": "a lot"}), action, policy, remaining_budget=1, steps_today=0
        ).verdict
        == "auto"
    )


def test_incomplete_rules_are_rejected() -> None:
    with pytest.raises(ValueError, match="param, op and value"):
        Rule(name="r", decide="forbid", param="percent")


def outcome(direction: Direction = Direction.DECREASE) -> Outcome:
    baseline, target = (8.0, 6.0) if direction is Direction.DECREASE else (100.0, 120.0)
    return Outcome(
        id="o1",
        workspace="T1",
        objective="x",
        metric="m",
        direction=direction,
        baseline=baseline,
        target=target,
        started_at=NOW,
        deadline=NOW + timedelta(days=100),
        owner="o",
        approvers=("a",),
        conversation=ConversationRef(platform="t", workspace="T1", channel="C"),
    )


@pytest.mark.parametrize(
    ("days", "value", "verdict"),
    [
        (0, 8.0, Verdict.ON_TRACK),
        (50, 7.0, Verdict.ON_TRACK),
        (50, 7.1, Verdict.AT_RISK),
        (50, 7.5, Verdict.OFF_TRACK),
        (20, 6.0, Verdict.ACHIEVED),
        (100, 6.5, Verdict.MISSED),
        (120, 5.9, Verdict.ACHIEVED),
    ],
)
def test_straight_line_verdicts(days: int, value: float, verdict: Verdict) -> None:
    result = evaluate(outcome(), value, NOW + timedelta(days=days))
    assert result.verdict is verdict


def test_evaluation_for_increasing_metrics() -> None:
    result = evaluate(outcome(Direction.INCREASE), 110.0, NOW + timedelta(days=50))
    assert result.expected == pytest.approx(110.0)
    assert result.progress == pytest.approx(0.5)
    assert result.verdict is Verdict.ON_TRACK
