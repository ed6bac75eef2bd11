"""An earned rule in governance: it approves its action with its parameters within its
bounds only, and never overrides a forbid, the budget or an action that always asks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.models import Lane, Step
from orchestrator.steps.policy import govern
from orchestrator.workspace.catalog import Rule, Workspace

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
EARNED = Rule(
    name="auto-approve offer_discount (percent=20) up to 40 in the audience and 240 GBP",
    decide="auto",
    earned=True,
    action="offer_discount",
    params={"percent": 20},
    audience_at_most=40,
    cost_at_most=240.0,
)


def decide(
    workspace: Workspace, *, percent: int, audience: int, cost: float, remaining: float = 500
) -> tuple[str, str]:
    step = Step(
        id="s1",
        outcome_id="o1",
        workspace="T1",
        action="offer_discount",
        lane=Lane.SYSTEMS,
        created_at=NOW,
        params={"percent": percent},
        audience=audience,
        cost=cost,
    )
    decision = govern(
        step,
        workspace.actions["offer_discount"],
        workspace.policy,
        extra_rules=(EARNED,),
        remaining_budget=remaining,
        steps_today=0,
    )
    return decision.verdict, decision.rule


@pytest.mark.parametrize(
    ("percent", "audience", "cost", "expected"),
    [
        (20, 40, 240.0, ("auto", EARNED.name)),  # at its bounds
        (20, 12, 72.0, ("auto", EARNED.name)),
        (20, 41, 240.0, ("approve", "default")),  # a larger audience asks
        (20, 40, 240.5, ("approve", "default")),  # a larger cost asks
        (25, 40, 240.0, ("approve", "default")),  # other parameters ask
        (35, 10, 100.0, ("forbid", "no deep discounts")),  # a forbid stands
    ],
)
def test_an_earned_rule_approves_within_its_bounds_only(
    workspace: Workspace, percent: int, audience: int, cost: float, expected: tuple[str, str]
) -> None:
    assert decide(workspace, percent=percent, audience=audience, cost=cost) == expected


def test_the_budget_still_forbids(workspace: Workspace) -> None:
    assert decide(workspace, percent=20, audience=40, cost=240.0, remaining=100)[0] == "forbid"


def test_an_action_that_always_asks_is_asked_about_whatever_the_rules(
    workspace: Workspace,
) -> None:
    asks = workspace.actions["offer_discount"].model_copy(update={"always_ask": True})
    marked = workspace.model_copy(update={"actions": {**workspace.actions, "offer_discount": asks}})
    assert decide(marked, percent=20, audience=40, cost=240.0) == ("approve", "default")
    # even where the file's own rule would run it unasked
    assert decide(marked, percent=10, audience=40, cost=120.0) == ("approve", "always ask")
