"""Scripted chat models: langchain's fake models, able to take tools and record prompts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

from orchestrator.llm.usage import Usage


def tool_call(name: str, params: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    args = {"params": params or {}, "rationale": "because", "expected_impact": "some", **extra}
    return {"name": name, "args": args, "id": f"call_{name}", "type": "tool_call"}


def reply(*calls: dict[str, Any], content: str = "", tokens: Usage | None = None) -> AIMessage:
    usage = tokens or Usage(100, 20)
    return AIMessage(
        content=content,
        tool_calls=list(calls),
        usage_metadata={
            "input_tokens": usage.input,
            "output_tokens": usage.output,
            "total_tokens": usage.total,
        },
    )


class ScriptedModel(FakeMessagesListChatModel):
    """Answers from `responses` in order and records every prompt and bound tool list."""

    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    bound: list[dict[str, Any]] = Field(default_factory=list)

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=list(tools), tool_choice=tool_choice)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompts.append(list(messages))
        self.bound.append(kwargs)
        return super()._generate(messages, stop, run_manager, **kwargs)


Responder = Callable[[list[BaseMessage], dict[str, Any]], AIMessage]


class RespondingModel(ScriptedModel):
    """A scripted model whose answer is computed from the prompt (for long stories)."""

    responder: Responder
    responses: list[BaseMessage] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.responses = [self.responder(messages, kwargs)]
        self.i = 0
        return super()._generate(messages, stop, run_manager, **kwargs)
