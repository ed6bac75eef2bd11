"""LlmPlanner: the model proposes steps through the catalog's tools; code validates them.

Invalid output gets one retry with the validation error; after that the playbook planner
takes over for this tick, and repeated failures raise an incident. The model never
decides policy: its proposals are governed like any other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from orchestrator.errors import NotFound
from orchestrator.llm import prompts, trace
from orchestrator.llm.errors import ModelNotUsed
from orchestrator.llm.estimates import money
from orchestrator.llm.failures import PlanFailures
from orchestrator.llm.gate import Answer, Caller, ModelGate
from orchestrator.llm.offer import plan_tools
from orchestrator.llm.validate import InvalidPlan, proposals_from
from orchestrator.models import Direction, Step, StepStatus
from orchestrator.steps.govern import approval_id_for
from orchestrator.steps.planner import PlanInput, Planner, PlaybookPlanner, Proposal

log = logging.getLogger("baton.llm")
HISTORY_SHOWN = 30


class LlmPlanner:
    """A `Planner` backed by a chat model, with the playbooks as its fallback."""

    def __init__(self, gate: ModelGate, fallback: Planner | None = None) -> None:
        self.gate = gate
        self.fallback = fallback or PlaybookPlanner()
        self.failures = PlanFailures(gate.ctx)

    async def propose(self, plan_input: PlanInput) -> list[Proposal]:
        """Validated model proposals, or the fallback planner's when the model fails."""
        outcome = plan_input.outcome
        await self.failures.judge_last(outcome, plan_input.history)
        caller = Caller(outcome.workspace, outcome.id, outcome.conversation, plan_input.work)
        remaining = outcome.budget - await self.gate.ctx.store.spent(outcome.id)
        messages: list[BaseMessage] = [
            SystemMessage(prompts.PLANNER),
            HumanMessage(await self._situation(plan_input, remaining)),
        ]
        tools = plan_tools(plan_input)
        why = ""
        for attempt in range(2):
            try:
                answer = await self.gate.answer(
                    messages, caller=caller, tools=tools, purpose="plan"
                )
            except ModelNotUsed:
                return await self.fallback.propose(plan_input)
            reply = answer.message
            try:
                proposals = proposals_from(_calls(reply), plan_input, remaining)
            except InvalidPlan as invalid:
                log.info("plan for %s invalid (attempt %d): %s", outcome.id, attempt + 1, invalid)
                why = str(invalid)
                await trace.refused(self.gate.ctx, answer.call, why)
                messages.append(HumanMessage(_retry_prompt(reply, invalid)))
                continue
            return sourced(proposals, answer)  # counted once policy has governed it
        await self.failures.failed(outcome, why)
        return await self.fallback.propose(plan_input)

    async def _situation(self, plan_input: PlanInput, remaining: float) -> str:
        outcome, evaluation = plan_input.outcome, plan_input.evaluation
        workspace = plan_input.workspace
        metric = workspace.metrics[outcome.metric]
        facts = {
            "objective": outcome.objective,
            "metric": {"name": outcome.metric, "unit": metric.unit, "better": metric.direction},
            "baseline": outcome.baseline,
            "target": outcome.target,
            "deadline": outcome.deadline.date().isoformat(),
            "today": plan_input.now.date().isoformat(),
            "now": evaluation.value,
            "straight_line_expects": evaluation.expected,
            "verdict": evaluation.verdict.value,
            "budget_left": money(max(remaining, 0.0), workspace),
            "max_steps_per_plan": workspace.policy.max_steps_per_plan,
        }
        history = [await self._history_line(s) for s in plan_input.history[-HISTORY_SHOWN:]]
        return (
            "The outcome and where it stands:\n"
            + json.dumps(facts, default=str)
            + "\nSteps so far (oldest first), with dates, audiences, costs, measured effects, "
            "and why any was rejected or forbidden:\n"
            + prompts.as_data(history)
            + "\n"
            + _evidence_table(plan_input)
            + "\nPropose the next steps."
        )

    async def _history_line(self, step: Step) -> dict[str, Any]:
        line: dict[str, Any] = {"action": step.action, "params": step.params}
        line["status"] = step.status.value
        line["planned_on"] = step.created_at.date().isoformat()
        if step.finished_at is not None:
            line["finished_on"] = step.finished_at.date().isoformat()
        if step.audience:
            line["audience"] = step.audience
        if step.cost:
            line["cost"] = step.cost
        measured = step.incremental
        if measured is not None and measured.on_metric is not None:
            line["incremental_effect"] = {
                "on_metric": measured.on_metric,
                "ci95": [measured.metric_low, measured.metric_high],
                "treated": measured.treated,
                "held_back": measured.control,
            }
        elif measured is not None:
            line["incremental_effect"] = "not enough data"
        elif step.effect is not None:
            line["before_after_change"] = step.effect
        if step.status is StepStatus.REJECTED:
            line["rejected_because"] = await self._reason(step)
        if step.status is StepStatus.FORBIDDEN:
            line["forbidden_by"] = step.decision
        if step.error:
            line["error"] = step.error[:200]
        return line

    async def _reason(self, step: Step) -> str:
        try:
            return (await self.gate.ctx.store.approval(approval_id_for(step.id))).reason
        except NotFound:
            return ""  # rejected before approvals kept reasons; the rejection still counts


def _evidence_table(plan_input: PlanInput) -> str:
    """The evidence library on the outcome's metric as data, most favourable first."""
    outcome = plan_input.outcome
    metric = plan_input.workspace.metrics[outcome.metric]
    found = [e for k, e in plan_input.evidence.items() if k.metric == outcome.metric]
    if not found:
        return prompts.EVIDENCE_NONE
    sign = 1.0 if metric.direction is Direction.INCREASE else -1.0
    rows = [
        {
            "action": e.key.action,
            "params": json.loads(e.key.params) if e.key.params else {},
            "segment": e.key.segment or None,
            "effect_per_100_treated": round(e.effect, 4),
            "ci95": [round(e.low, 4), round(e.high, 4)],
            "runs": e.runs,
            "treated": e.treated,
            "held_back": e.control,
        }
        for e in sorted(found, key=lambda e: (e.key.segment, -sign * e.effect))
    ]
    return prompts.evidence_intro(outcome.metric, metric.direction.value) + prompts.as_data(rows)


def sourced(proposals: list[Proposal], answer: Answer) -> list[Proposal]:
    """Each proposal marked with the model call and tool call it came from (a valid plan
    has one proposal per tool call, in order)."""
    ids = [c.get("id") or str(i) for i, c in enumerate(answer.message.tool_calls)]
    return [
        replace(p, source=f"{answer.call.id}:{tool_id}")
        for p, tool_id in zip(proposals, ids, strict=True)
    ]


def _calls(reply: AIMessage) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = [{"name": c["name"], "args": c["args"]} for c in reply.tool_calls]
    for bad in reply.invalid_tool_calls:  # malformed JSON arguments
        calls.append({"name": bad.get("name") or "", "args": {}, "malformed": True})
    return calls


def _retry_prompt(reply: AIMessage, invalid: InvalidPlan) -> str:
    shown = json.dumps(_calls(reply), default=str)[:2000]
    return (
        f"Your plan was not accepted. You proposed: {shown}. Problems: {invalid}. "
        "Propose again with tool calls that fix every problem."
    )
