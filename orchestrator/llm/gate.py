"""The gate every model call passes: budget, the retry layer, usage, and fallback notices.

When the model is over budget or unreachable the gate answers `None`; callers fall back
to the parser, the playbooks or the templates. The owner hears about it once (a flag in
Redis), and again only after the model has worked in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from orchestrator import counters
from orchestrator.context import Context
from orchestrator.llm.errors import LlmUnavailable
from orchestrator.llm.retry import RetryPolicy, Sleep, with_retries
from orchestrator.llm.usage import TokenLedger, usage_from
from orchestrator.models import ConversationRef
from orchestrator.notices import Notice, NoticeKind

log = logging.getLogger("baton.llm")
FALLBACK_FLAG_TTL_S = 30 * 86_400


@dataclass(frozen=True)
class Caller:
    """Who a model call is for: who pays for it and who is told when it falls back."""

    workspace: str
    outcome_id: str | None = None
    conversation: ConversationRef | None = None


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
        self,
        messages: Sequence[BaseMessage],
        *,
        caller: Caller,
        tools: Sequence[dict[str, Any]] = (),
        tool_choice: str | None = None,
    ) -> AIMessage | None:
        """The model's reply, or `None` when the caller must fall back."""
        now = self.ctx.clock.now()
        if not await self.ledger.within_budget(caller.workspace, now):
            await self._fall_back(caller, "llm_budget", "the daily token budget is used up")
            return None
        runnable: Runnable[LanguageModelInput, BaseMessage] = (
            self.model.bind_tools(list(tools), tool_choice=tool_choice) if tools else self.model
        )
        try:
            reply = await with_retries(
                lambda: runnable.ainvoke(list(messages)), self.policy, self.sleep
            )
        except LlmUnavailable as error:
            await self._fall_back(caller, "llm_unavailable", str(error))
            return None
        message = reply if isinstance(reply, AIMessage) else AIMessage(content=reply.content)
        prompt_chars = sum(len(str(m.content)) for m in messages)
        usage = usage_from(message.usage_metadata, prompt_chars, len(str(message.content)))
        await self.ledger.record(
            usage, workspace=caller.workspace, outcome_id=caller.outcome_id, now=now
        )
        await self.ctx.store.redis.delete(self._flag(caller))
        return message

    def _flag(self, caller: Caller) -> str:
        return self.ctx.keys.flag(f"llm:fallback:{caller.workspace}:{caller.outcome_id or '-'}")

    async def _fall_back(self, caller: Caller, kind: str, why: str) -> None:
        log.warning("model not used for %s (%s): %s", caller.outcome_id or "intake", kind, why)
        await counters.bump(self.ctx.store.redis, self.ctx.keys, counters.LLM_ERRORS, kind)
        first = await self.ctx.store.redis.set(
            self._flag(caller), kind, nx=True, ex=FALLBACK_FLAG_TTL_S
        )
        if not first or caller.conversation is None:
            return
        await self.ctx.say(
            Notice(
                kind=NoticeKind.INCIDENT,
                conversation=caller.conversation,
                outcome_id=caller.outcome_id,
                text=f"{why}; planning with playbooks and drafting from templates meanwhile",
                data={"incident": kind},
            )
        )
