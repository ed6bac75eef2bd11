"""The parser learns "every / each X within N minutes|hours|days" onto declared case sources."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.models import Direction
from orchestrator.outcomes.parser import Change, parse
from orchestrator.workspace.catalog import Workspace

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "source", "playbook", "sla_s"),
    [
        (
            "every new customer is onboarded within 1 hour of signing",
            "contracts",
            "onboarding",
            3_600,
        ),
        ("Every contract is onboarded within 45 minutes", "contracts", "onboarding", 2_700),
        (
            "each support ticket gets a first response within 4 hours",
            "support_tickets",
            "first_response",
            14_400,
        ),
        ("Each ticket answered within 2 days", "support_tickets", "first_response", 172_800),
        ("every new customer onboarded within 1.5 hrs", "contracts", "onboarding", 5_400),
    ],
)
def test_standing_statements_map_onto_case_sources(
    workspace: Workspace, text: str, source: str, playbook: str, sla_s: int
) -> None:
    draft = parse(text, workspace, NOW)
    assert (draft.case_source, draft.case_playbook, draft.sla_s) == (source, playbook, sla_s)
    book = workspace.case_playbooks[playbook]
    assert draft.metric == book.metric
    assert (draft.direction, draft.change, draft.amount) == (Direction.INCREASE, Change.TO, 95.0)
    assert draft.deadline is None


def test_an_unknown_kind_of_case_is_understood_as_standing_but_unmapped(
    workspace: Workspace,
) -> None:
    draft = parse("every unicorn is fed within 2 days", workspace, NOW)
    assert draft.sla_s == 172_800
    assert draft.case_source is None and draft.case_playbook is None and draft.metric is None


def test_approvers_and_shadow_are_kept_on_standing_statements(workspace: Workspace) -> None:
    draft = parse(
        "every new customer onboarded within 1 hour, approved by @carol, in shadow mode",
        workspace,
        NOW,
    )
    assert draft.approvers == ("carol",) and draft.shadow and draft.case_source == "contracts"


@pytest.mark.parametrize(
    "text",
    [
        "Cut monthly churn by 2% by the end of Q1",
        "keep churn within 5% by March",
        "Reduce open tickets to 10 within 2 weeks",
        "every month reduce churn by 1 point by June",
    ],
)
def test_target_statements_are_not_standing(workspace: Workspace, text: str) -> None:
    draft = parse(text, workspace, NOW)
    assert draft.sla_s is None and draft.case_source is None
