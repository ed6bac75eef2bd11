"""LlmInterpreter through the intake, and LlmDrafter through a step, with scripted models."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from orchestrator.llm.interpreter import TOOL
from orchestrator.outcomes.parser import Change, parse
from orchestrator.runtime.services import Runtime
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START, Harness
from tests.llm.conftest import lane_for
from tests.llm.scripted import ScriptedModel, reply


def reading(**args: object) -> AIMessage:
    return reply({"name": TOOL, "args": args, "id": "call_1", "type": "tool_call"})


def use_interpreter(harness: Harness, model: ScriptedModel) -> None:
    lane = lane_for(harness, model)
    harness.runtime.intake.interpreter = lane.interpreter


async def test_the_model_settles_what_the_parser_could_not(
    plain: Harness, workspace: Workspace
) -> None:
    model = ScriptedModel(
        responses=[
            reading(
                metric="churn_rate",
                direction="decrease",
                change="points",
                amount=2,
                deadline="2027-03-31",
            )
        ]
    )
    use_interpreter(plain, model)
    await plain.say("olivia", "Fewer people leaving us, two points fewer, before spring ends")
    assert plain.gateway.titles()[-1] == "Statement of Benefit"
    assert model.bound[0]["tool_choice"] == TOOL
    assert "<<<DATA" in str(model.prompts[0][-1].content)


async def test_the_parsers_settled_fields_win(workspace: Workspace) -> None:
    from orchestrator.llm.interpreter import OutcomeReading, checked, merge

    draft = parse("Cut monthly churn to 5% sometime", workspace, START)
    found = checked(
        OutcomeReading(metric="mrr", change="points", amount=3, deadline=None), workspace, START
    )
    merged = merge(draft, found)
    assert (merged.metric, merged.change, merged.amount) == ("churn_rate", Change.TO, 5.0)


async def test_invented_metrics_insane_numbers_and_wrong_directions_are_dropped(
    workspace: Workspace,
) -> None:
    from orchestrator.llm.interpreter import OutcomeReading, checked

    assert (
        checked(
            OutcomeReading(metric="happiness", direction="increase", change="to", amount=5),
            workspace,
            START,
        )
        == {}
    )
    assert checked(
        OutcomeReading(metric="churn_rate", direction="increase", change="to", amount=250),
        workspace,
        START,
    ) == {"metric": "churn_rate"}
    past = checked(OutcomeReading(deadline="2020-01-01"), workspace, START)
    assert past == {}


async def test_malformed_structured_output_leaves_the_parser_asking(plain: Harness) -> None:
    model = ScriptedModel(responses=[reading(metric=["not", "a", "name"], amount="many")])
    use_interpreter(plain, model)
    await plain.say("olivia", "Fewer people leaving us")
    assert plain.gateway.titles()[-1].startswith("I could not find an outcome")
    assert len(model.prompts) == 1


async def test_the_model_draft_is_what_the_approver_sees(
    plain: Harness, workspace: Workspace
) -> None:
    text = "Subject: Come back to Northwind\nHi, your reports now take two minutes."
    model = ScriptedModel(responses=[AIMessage(content=text)])
    lane = lane_for(plain, model)
    runtime = plain.runtime
    plain.runtime.executor.lanes.drafter = lane.drafter
    assert isinstance(runtime, Runtime)
    await plain.state("olivia", "Cut monthly churn by 2 points by end of Q1")
    approval = plain.gateway.sent[-1].current.text()
    assert "Come back to Northwind" in approval and "two minutes" in approval
    prompt = str(model.prompts[0][-1].content)
    assert "<<<DATA" not in prompt and "@" not in prompt  # no field declared: no customer data
    assert '"audience": 40' in prompt
