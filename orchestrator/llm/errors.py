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


class LlmNotInstalled(LlmError, ConfigError):
    """The provider in `BATON_LLM` needs an optional extra that is not installed."""
