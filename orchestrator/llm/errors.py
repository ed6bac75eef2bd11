"""Errors of the intelligence lane."""

from __future__ import annotations

from orchestrator.errors import BatonError, ConfigError


class LlmError(BatonError):
    """The model could not be used for a request."""


class LlmUnavailable(LlmError):
    """The model did not answer usefully after the retries (down, timing out, refusing)."""

    def __init__(self, what: str, *, attempts: int) -> None:
        super().__init__(f"model unavailable after {attempts} attempt(s): {what}")
        self.what = what
        self.attempts = attempts


class ModelNotUsed(LlmError):
    """The gate did not get an answer for a call: over budget or unavailable. `kind` is the
    incident kind (`llm_budget`, `llm_unavailable`); `why` is safe to show a person."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(f"{kind}: {why}")
        self.kind = kind
        self.why = why


class UnderstandingUnavailable(ModelNotUsed):
    """Intake could not ask the model to read a statement; the owner should hear why
    instead of only "I could not find an outcome"."""


class LlmNotInstalled(LlmError, ConfigError):
    """The provider in `BATON_LLM` needs an optional extra that is not installed."""
