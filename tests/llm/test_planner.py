"""LlmPlanner with scripted fake models: validation, one retry, fallback, incidents."""

from __future__ import annotations

from datetime import timedelta

from langchain_core.messages import AIMessage, HumanMessage

from orchestrator.llm.offer import offered
from orchestrator.llm.tools import LLM_PLAY
from orchestrator.llm.validate import MODEL_REASONING
from orchestrator.models import Approval, ApprovalStatus, Lane, Step, StepStatus
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START, Harness
from tests.llm.conftest import churn_outcome, lane_for, plan_input
from tests.llm.scripted import ScriptedModel, reply, tool_call


async def test_valid_tool_calls_become_chained_proposals(
    plain: Harness, workspace: Workspace
) -> None:
    model = ScriptedModel(
        responses=[
            reply(
                tool_call("find_at_risk"),
                tool_call("offer_discount", {"percent": 10}, rationale="price-sensitive"),
            )
        ]
    )
    proposals = await lane_for(plain, model).planner.propose(plan_input(workspace))
    assert [(p.action, p.params, p.after) for p in proposals] == [
        ("find_at_risk", {}, None),
        ("offer_discount", {"percent": 10}, 0),
    ]
    assert proposals[1].rationale == f'{MODEL_REASONING}: "price-sensitive"'
    assert proposals[1].play == LLM_PLAY
    tools = model.bound[0]["tools"]
    names = {t["function"]["name"] for t in tools}
    assert names == set(offered(workspace))
    discount = next(t for t in tools if t["function"]["name"] == "offer_discount")
    percent = discount["function"]["parameters"]["properties"]["percent"]
    assert percent == {
        "type": "integer",
        "minimum": 1,
        "maximum": 50,
        "description": "discount in percent; from 1 to 50",
    }


async def test_invalid_plan_is_retried_once_with_the_error(
    plain: Harness, workspace: Workspace
) -> None:
    model = ScriptedModel(
        responses=[
            reply(tool_call("offer_discount", {"percent": 80}), tool_call("email_everyone")),
            reply(tool_call("find_at_risk"), tool_call("offer_discount", {"percent": 15})),
        ]
    )
    proposals = await lane_for(plain, model).planner.propose(plan_input(workspace))
    assert [p.params for p in proposals] == [{}, {"percent": 15}]
    retry = model.prompts[1][-1]
    assert isinstance(retry, HumanMessage)
    assert "'percent' must be at most 50" in str(retry.content)
    assert "'email_everyone' is not an action in the catalog" in str(retry.content)


async def test_two_invalid_plans_fall_back_to_the_playbook(
    plain: Harness, workspace: Workspace
) -> None:
    bad = reply(tool_call("offer_discount", {"percent": "lots", "extra": 1}))
    model = ScriptedModel(responses=[bad, bad])
    proposals = await lane_for(plain, model).planner.propose(plan_input(workspace))
    assert [p.action for p in proposals] == ["find_at_risk", "draft_winback", "send_winback"]
    assert proposals[0].play == "win_back"
    assert len(model.prompts) == 2


async def test_repeated_failure_raises_one_incident(plain: Harness, workspace: Workspace) -> None:
    model = ScriptedModel(responses=[AIMessage(content="I think you should email everyone.")])
    planner = lane_for(plain, model).planner
    for _ in range(4):
        await planner.propose(plan_input(workspace))
    await plain.runtime.drain()
    incidents = [t for t in plain.gateway.titles() if "llm_invalid_plans" in t]
    assert len(incidents) == 1
    assert len(model.prompts) == 8


def rejected_discount(percent: int) -> Step:
    return Step(
        id="s9",
        outcome_id="o1",
        workspace="T1",
        action="offer_discount",
        lane=Lane.SYSTEMS,
        params={"percent": percent},
        status=StepStatus.REJECTED,
        created_at=START,
    )


async def test_a_rejected_action_and_params_is_never_proposed_again(
    plain: Harness, workspace: Workspace
) -> None:
    approval = Approval(
        id="a9",
        step_id="s9",
        outcome_id="o1",
        workspace="T1",
        what="offer_discount",
        why="",
        expected_impact="",
        cost=0,
        approvers=("alice",),
        requested_at=START,
        deadline=START + timedelta(days=2),
        status=ApprovalStatus.REJECTED,
        reason="Too generous: keep discounts at 10% or less",
    )
    await plain.store.redis.hset(
        plain.runtime.ctx.keys.approval("a9"), "data", approval.model_dump_json()
    )
    model = ScriptedModel(
        responses=[
            reply(tool_call("find_at_risk"), tool_call("offer_discount", {"percent": 20})),
            reply(tool_call("find_at_risk"), tool_call("offer_discount", {"percent": 10})),
        ]
    )
    history = [rejected_discount(20)]
    proposals = await lane_for(plain, model).planner.propose(plan_input(workspace, history=history))
    assert proposals[1].params == {"percent": 10}
    first_prompt = str(model.prompts[0][-1].content)
    assert "Too generous: keep discounts at 10% or less" in first_prompt
    assert "a person rejected this action with these parameters" in str(
        model.prompts[1][-1].content
    )


async def test_a_plan_over_the_remaining_budget_is_invalid(
    plain: Harness, workspace: Workspace
) -> None:
    ws = workspace.model_copy(
        update={
            "actions": {
                **workspace.actions,
                "fixed_fee": workspace.actions["tell_account_managers"].model_copy(
                    update={"cost": 120.0}
                ),
            }
        }
    )
    model = ScriptedModel(
        responses=[reply(tool_call("fixed_fee")), reply(tool_call("find_at_risk"))]
    )
    proposals = await lane_for(plain, model).planner.propose(
        plan_input(ws, outcome=churn_outcome(budget=100.0))
    )
    assert [p.action for p in proposals] == ["find_at_risk"]
    assert "costs GBP 120.00 at the least, only GBP 100.00 of the budget is left" in str(
        model.prompts[1][-1].content
    )


async def test_tokens_are_recorded_for_the_outcome(plain: Harness, workspace: Workspace) -> None:
    model = ScriptedModel(responses=[reply(tool_call("find_at_risk"))])
    lane = lane_for(plain, model)
    await lane.planner.propose(plan_input(workspace))
    used = await lane.gate.ledger.used_by("o1")
    assert (used.input, used.output) == (100, 20)
    assert await lane.gate.ledger.used_today("T1", START) == 120
