"""The chat model factory: a langchain model string in, a client with no retries of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel

from orchestrator.llm.errors import LlmNotInstalled

EXTRAS = {
    "openai": "openai",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "ollama": "ollama",
}


@dataclass(frozen=True)
class ModelSettings:
    """How to reach the model; built by the composition root from `Settings`."""

    model: str
    """A langchain model string such as `openai:gpt-4o-mini` (`BATON_LLM`)."""
    base_url: str | None = None
    """The provider's server at another address (`BATON_LLM_BASE_URL`): an OpenAI-compatible
    server for `openai:`, an Anthropic-compatible one for `anthropic:`, the Ollama server
    for `ollama:`; each is spoken to in its provider's own format."""
    timeout_s: float = 30.0
    """Client timeout per request; a hung server fails after this long."""
    api_key: str | None = None
    """Normally unset: providers read their own variables (`OPENAI_API_KEY`, ...)."""
    temperature: float = 0.0
    max_output_tokens: int = 2_048
    """The most tokens a reply may have (OpenAI and Anthropic `max_tokens`, Ollama
    `num_predict`): a runaway answer is cut there and billed no further. A plan of ten
    steps or a draft fits well within it."""


def provider_of(model: str) -> str:
    return model.split(":", 1)[0] if ":" in model else "openai"


def _client_kwargs(settings: ModelSettings) -> dict[str, Any]:
    provider = provider_of(settings.model)
    kwargs: dict[str, Any] = {"temperature": settings.temperature}
    if provider == "ollama":
        # ChatOllama has no timeout or retries of its own; the httpx client takes the timeout.
        kwargs["client_kwargs"] = {"timeout": settings.timeout_s}
        kwargs["num_predict"] = settings.max_output_tokens
    else:
        # One retry layer only: ours (orchestrator/llm/retry.py).
        kwargs.update(
            timeout=settings.timeout_s, max_retries=0, max_tokens=settings.max_output_tokens
        )
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    return kwargs


def build_chat_model(settings: ModelSettings) -> BaseChatModel:
    """The configured chat model; fails fast when the provider's extra is missing."""
    try:
        model: BaseChatModel = init_chat_model(settings.model, **_client_kwargs(settings))
        return model
    except ImportError as error:
        extra = EXTRAS.get(provider_of(settings.model), provider_of(settings.model))
        raise LlmNotInstalled(
            f"BATON_LLM={settings.model} needs its provider package: "
            f"pip install 'baton[{extra}]' ({error})"
        ) from error
