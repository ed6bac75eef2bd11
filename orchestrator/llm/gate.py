"""The gate every model call passes: budget, the retry layer, usage, and fallback notices.

When the model is over budget or unreachable the gate answers `None`; callers fall back
to the parser, the playbooks or the templates. The owner hears about it once (a flag in
Redis), and again only after the model has worked in between.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from orchestrator.llm import trace
from orchestrator.llm.errors import LlmUnavailable, ModelNotUsed
from orchestrator.llm.retry import RetryPolicy, Sleep, with_retries
from orchestrator.llm.usage import TokenLedger, usage_from
from orchestrator.models import ConversationRef
from orchestrator.notify.notices import IncidentData, Notice, NoticeKind
from orchestrator.runtime.context import Context
from orchestrator.runtime.queue import Delivery
from orchestrator.store import counters

log = logging.getLogger("baton.llm")
FALLBACK_FLAG_TTL_S = 30 * 86_400
OLLAMA = "chat-ollama"
"""langchain's `_llm_type` of ChatOllama."""


@dataclass(frozen=True)
class Caller:
    """Who a model call is for: who pays for it and who is told when it falls back."""

    workspace: str
    outcome_id: str | None = None
    conversation: ConversationRef | None = None
    work: Delivery | None = field(default=None, compare=False, repr=False)
    """The job the call is made in, if any: the call's audit records are fenced by it."""


@dataclass(frozen=True)
class Answer:
    """A model's reply, and the call it came from (named in the audit trail)."""

    message: AIMessage
    call: trace.Call


class ModelGate:
    def __init__(
        self,
        ctx: Context,
        model: BaseChatModel,
        ledger: TokenLedger,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.ctx = ctx
        self.model = model
        self.ledger = ledger
        self.policy = policy or RetryPolicy()
        self.sleep = sleep

    async def ask(
        self, messages: Sequence[BaseMessage], *, caller: Caller, purpose: str = ""
    ) -> AIMessage | None:
        """The model's reply without tools (a draft), or `None` when the caller must fall
        back; a call with tools asks through `answer`."""
        try:
            answer = await self.answer(messages, caller=caller, purpose=purpose)
        except ModelNotUsed:
            return None
        return answer.message

    async def answer(
        self,
        messages: Sequence[BaseMessage],
        *,
        caller: Caller,
        tools: Sequence[dict[str, Any]] = (),
        tool_choice: str | None = None,
        purpose: str = "",
    ) -> Answer:
        """The model's reply and its call's id in the audit trail; raises `ModelNotUsed`
        (after the fallback is recorded and announced) when it is over budget or down."""
        now = self.ctx.clock.now()
        call = trace.Call(
            await self.ctx.store.next_id("m", caller.workspace),
            caller.workspace,
            caller.outcome_id,
            purpose,
            caller.work,
        )
        if not await self.ledger.within_budget(caller.workspace, now):
            raise await self._fall_back(
                caller, call, "llm_budget", "the daily token budget is used up"
            )
        runnable = bound(self.model, tools, tool_choice)
        started = time.perf_counter()
        try:
            reply = await with_retries(
                lambda: runnable.ainvoke(list(messages)), self.policy, self.sleep
            )
        except LlmUnavailable as error:
            raise await self._fall_back(caller, call, "llm_unavailable", str(error)) from error
        latency_ms = int((time.perf_counter() - started) * 1000)
        message = reply if isinstance(reply, AIMessage) else AIMessage(content=reply.content)
        usage = usage_from(
            message.usage_metadata, sent_chars(messages, tools), reply_chars(message)
        )
        await self.ledger.record(
            usage, workspace=caller.workspace, outcome_id=caller.outcome_id, now=now
        )
        await trace.answered(
            self.ctx,
            call,
            model=trace.model_of(self.model),
            usage=usage,
            estimated=not message.usage_metadata,
            latency_ms=latency_ms,
            reply=message,
        )
        await self.ctx.store.flags.lower(self._flag(caller))
        return Answer(message, call)

    def _flag(self, caller: Caller) -> str:
        return self.ctx.keys.flag(f"llm:fallback:{caller.workspace}:{caller.outcome_id or '-'}")

    async def _fall_back(
        self, caller: Caller, call: trace.Call, kind: str, why: str
    ) -> ModelNotUsed:
        log.warning("model not used for %s (%s): %s", caller.outcome_id or "intake", kind, why)
        await trace.not_used(self.ctx, call, model=trace.model_of(self.model), kind=kind, why=why)
        await self.ctx.store.counters.bump(counters.LLM_ERRORS, kind)
        first = await self.ctx.store.flags.raise_once(
            self._flag(caller), value=kind, ttl_s=FALLBACK_FLAG_TTL_S
        )
        if first and caller.conversation is not None:
            await self._announce(caller.conversation, caller.outcome_id, kind, why)
        return ModelNotUsed(kind, why)

    async def _announce(
        self, conversation: ConversationRef, outcome_id: str | None, kind: str, why: str
    ) -> None:
        await self.ctx.say(
            Notice(
                kind=NoticeKind.INCIDENT,
                conversation=conversation,
                outcome_id=outcome_id,
                text=f"{why}; planning with playbooks and drafting from templates meanwhile",
                data=IncidentData(incident=kind),
            )
        )


def sent_chars(messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]]) -> int:
    """What a request carries, tool schemas included: the basis of the estimate when a
    provider reports no usage."""
    return sum(len(str(m.content)) for m in messages) + len(json.dumps(list(tools)))


def reply_chars(message: AIMessage) -> int:
    """What an answer carries: its text and its tool calls' arguments."""
    return len(str(message.content)) + len(json.dumps(message.tool_calls, default=str))


def bound(
    model: BaseChatModel, tools: Sequence[dict[str, Any]], tool_choice: str | None
) -> Runnable[LanguageModelInput, BaseMessage]:
    """The model with its tools. Ollama ignores a forced tool choice, so there the chosen
    tool's schema is sent as the answer's required JSON format instead (its JSON text is
    read like the tool call's arguments)."""
    if not tools:
        return model
    chosen = [t["function"] for t in tools if t["function"]["name"] == tool_choice]
    if chosen and model._llm_type == OLLAMA:
        return model.bind(format=chosen[0]["parameters"])
    return model.bind_tools(list(tools), tool_choice=tool_choice)
