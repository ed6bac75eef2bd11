"""The intelligence lane assembled: its planner, drafter and interpreter around one chat
model, its gate and its daily token budget."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from orchestrator.llm.drafter import LlmDrafter
from orchestrator.llm.gate import ModelGate
from orchestrator.llm.interpreter import LlmInterpreter
from orchestrator.llm.planner import LlmPlanner
from orchestrator.llm.retry import RetryPolicy, Sleep
from orchestrator.llm.usage import DEFAULT_DAILY_TOKENS, TokenLedger
from orchestrator.runtime.context import Context


@dataclass(frozen=True)
class IntelligenceLane:
    """The three model-backed ports, sharing one gate (budget, retries, notices)."""

    planner: LlmPlanner
    drafter: LlmDrafter
    interpreter: LlmInterpreter
    gate: ModelGate


def build_lane(
    ctx: Context,
    model: BaseChatModel,
    *,
    daily_tokens: int = DEFAULT_DAILY_TOKENS,
    policy: RetryPolicy | None = None,
    sleep: Sleep | None = None,
    explain_intake_outage: bool = False,
) -> IntelligenceLane:
    """Wire the planner, drafter and interpreter around one model.

    `explain_intake_outage` makes the interpreter raise `UnderstandingUnavailable` when
    the model is down or over budget, for an intake that tells the owner why."""
    ledger = TokenLedger(ctx.store, daily_tokens)
    gate = (
        ModelGate(ctx, model, ledger, policy=policy, sleep=sleep)
        if sleep is not None
        else ModelGate(ctx, model, ledger, policy=policy)
    )
    interpreter = LlmInterpreter(gate, explain_outage=explain_intake_outage)
    return IntelligenceLane(LlmPlanner(gate), LlmDrafter(gate), interpreter, gate)
