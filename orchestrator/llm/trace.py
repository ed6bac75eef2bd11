"""The model's trace in the audit trail: one event per call (provider, model, tokens,
latency, the raw tool calls) and one per refused plan (the validation errors).

Steps record the call and tool call they came from (`Proposal.source`), so the trail says
which proposal became which step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage

from orchestrator.llm.usage import Usage
from orchestrator.runtime.context import Context
from orchestrator.runtime.queue import Delivery
from orchestrator.store import transitions
from orchestrator.store.commit import Commit

RAW_CHARS = 8_000
"""How much of a reply's raw tool calls one event keeps (a runaway answer is cut)."""


@dataclass(frozen=True)
class Call:
    """One model call as the audit trail keeps it."""

    id: str
    workspace: str
    outcome_id: str | None
    purpose: str
    """`plan`, `draft` or `understand`."""
    work: Delivery | None = field(default=None, compare=False, repr=False)
    """The job the call is made in (a tick, a step, an intake), which fences its records."""


def model_of(model: BaseChatModel) -> dict[str, str]:
    """The provider's and the model's names, as the client knows them."""
    name = getattr(model, "model_name", None) or getattr(model, "model", None) or ""
    return {"provider": model._llm_type, "model": str(name)}


def raw_calls(reply: AIMessage) -> str:
    calls: list[dict[str, Any]] = [
        {"id": c.get("id"), "name": c["name"], "args": c["args"]} for c in reply.tool_calls
    ]
    calls += [
        {"id": c.get("id"), "name": c.get("name"), "malformed": c.get("args")}
        for c in reply.invalid_tool_calls
    ]
    return json.dumps(calls, default=str, ensure_ascii=False)[:RAW_CHARS]


async def answered(
    ctx: Context,
    call: Call,
    *,
    model: dict[str, str],
    usage: Usage,
    estimated: bool,
    latency_ms: int,
    reply: AIMessage,
) -> None:
    detail = {
        **model,
        "purpose": call.purpose,
        "input_tokens": usage.input,
        "output_tokens": usage.output,
        "tokens_estimated": estimated,
        "latency_ms": latency_ms,
        "tool_calls": raw_calls(reply),
    }
    await _record(ctx, call, "llm.answered", detail)


async def not_used(ctx: Context, call: Call, *, model: dict[str, str], kind: str, why: str) -> None:
    await _record(ctx, call, "llm.not_used", {**model, "purpose": call.purpose, kind: why})


async def refused(ctx: Context, call: Call, errors: str) -> None:
    """The model's plan from `call` failed validation: what was wrong, as the model was told."""
    await _record(ctx, call, "llm.plan_refused", {"errors": errors[:RAW_CHARS]})


async def _record(ctx: Context, call: Call, action: str, detail: dict[str, Any]) -> None:
    commit = transitions.audit(
        Commit(),
        ctx.keys,
        call.workspace,
        actor="agent",
        at=ctx.clock.now(),
        action=action,
        subject=f"llm:{call.id}",
        outcome_id=call.outcome_id,
        detail=detail,
    )
    await ctx.store.apply(commit, fenced_by=call.work)
