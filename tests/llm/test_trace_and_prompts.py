"""What the model is told and what the audit trail keeps of it, through a real OpenAI
client against a local server in the OpenAI wire format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.models import AuditEvent, Lane, Step, StepStatus
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START, Harness
from tests.llm.conftest import lane_for, plan_input
from tests.llm.openai_server import OpenAiDouble
from tests.llm.wire import STATEMENT, Served, calls, model_for

pytest.importorskip("langchain_openai")

FULL: list[tuple[str, dict[str, Any]]] = [
    ("find_at_risk", {}),
    ("draft_winback", {}),
    ("send_winback", {}),
]


async def trail(harness: Harness, outcome_id: str) -> list[AuditEvent]:
    return await harness.store.audit_trail(await harness.store.outcome(outcome_id))


async def test_every_model_call_is_in_the_trail_and_each_step_names_its_proposal(
    served: Served,
) -> None:
    harness, _double = await served([calls(FULL)])
    outcome_id = await harness.state("olivia", STATEMENT)
    events = await trail(harness, outcome_id)
    answered = [e for e in events if e.action == "llm.answered"]
    assert [e.detail["purpose"] for e in answered] == ["plan", "draft"]
    plan = answered[0]
    assert (plan.actor, plan.detail["provider"], plan.detail["model"]) == (
        "agent",
        "openai-chat",
        "gpt-4o-mini",
    )
    assert (plan.detail["input_tokens"], plan.detail["output_tokens"]) == (50, 10)
    assert plan.detail["tokens_estimated"] is False
    assert isinstance(plan.detail["latency_ms"], int)
    raw = json.loads(plan.detail["tool_calls"])
    assert [c["name"] for c in raw] == [name for name, _ in FULL]
    call_id = plan.subject.removeprefix("llm:")
    planned = [e.detail["proposal"] for e in events if e.action == "step.planned"]
    assert planned == [f"{call_id}:{c['id']}" for c in raw]


async def test_a_refused_plan_is_in_the_trail_with_its_errors(served: Served) -> None:
    harness, _double = await served([calls([("send_winback", {})]), calls(FULL)])
    outcome_id = await harness.state("olivia", STATEMENT)
    events = await trail(harness, outcome_id)
    refused = [e for e in events if e.action == "llm.plan_refused"]
    assert len(refused) == 1
    assert "no step before it drafts one" in refused[0].detail["errors"]
    first_call = next(e for e in events if e.action == "llm.answered")
    assert refused[0].subject == first_call.subject


def history() -> list[Step]:
    found = Step(
        id="s1",
        outcome_id="o1",
        workspace="T1",
        action="find_at_risk",
        lane=Lane.LOGIC,
        status=StepStatus.SUCCEEDED,
        created_at=START,
        finished_at=START,
        output={"rows": [{"customer_id": i} for i in range(40)]},
    )
    forbidden = Step(
        id="s2",
        outcome_id="o1",
        workspace="T1",
        action="offer_discount",
        lane=Lane.SYSTEMS,
        params={"percent": 50},
        status=StepStatus.FORBIDDEN,
        decision="forbid (budget)",
        audience=40,
        cost=600.0,
        created_at=START,
    )
    return [found, forbidden]


async def test_the_planner_is_told_money_audience_approval_dates_and_why_forbidden(
    plain: Harness, workspace: Workspace
) -> None:
    double = OpenAiDouble()
    double.script = [calls([("find_at_risk", {}), ("tell_account_managers", {})])]
    async with double.serving() as url:
        await lane_for(plain, model_for(url)).planner.propose(
            plan_input(workspace, history=history())
        )
    sent = double.requests[0]
    described: dict[str, Any] = {
        t["function"]["name"]: t["function"]["description"] for t in sent["tools"]
    }
    assert "create_account" not in described and "send_welcome" not in described
    discount = described["offer_discount"]
    assert "estimated audience: 40" in discount
    assert "cost: GBP 12.00 to GBP 600.00" in discount
    assert (
        "policy: percent 1-10: runs without approval; percent 11-30: a person must approve "
        "it; percent 31-50: forbidden (rule 'no deep discounts')" in discount
    )
    assert "cost: GBP 0.00" in described["find_at_risk"]
    situation = str(sent["messages"][-1]["content"])
    assert '"planned_on": "2027-01-04"' in situation
    assert '"forbidden_by": "forbid (budget)"' in situation
    assert '"budget_left": "GBP 500.00"' in situation


def drafting_request(double: OpenAiDouble) -> str:
    return next(str(r["messages"][-1]["content"]) for r in double.requests if not r.get("tools"))


async def test_the_drafting_prompt_carries_no_customer_data_by_default(served: Served) -> None:
    harness, double = await served([calls(FULL)])
    await harness.state("olivia", STATEMENT)
    prompt = drafting_request(double)
    assert "<<<DATA" not in prompt and "@" not in prompt and "customer_id" not in prompt
    assert '"audience": 40' in prompt


async def test_the_drafting_prompt_carries_only_the_declared_fields(
    served: Served, workspace: Workspace
) -> None:
    action = workspace.actions["draft_winback"].model_copy(update={"draft_fields": ("plan",)})
    ws = workspace.model_copy(update={"actions": {**workspace.actions, "draft_winback": action}})
    harness, double = await served([calls(FULL)], ws)
    await harness.state("olivia", STATEMENT)
    prompt = drafting_request(double)
    rows = json.loads(prompt[prompt.index("<<<DATA") + 7 : prompt.index("DATA>>>")])
    assert rows and all(set(row) == {"plan"} for row in rows)
    assert "@" not in prompt
