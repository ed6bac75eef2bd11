"""Sandboxed Jinja2 for parameter templates, drafts and cost expressions."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orchestrator.errors import BatonError

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateFailed(BatonError):
    """A template could not be rendered; the message says which and why."""


def render(template: str, context: dict[str, Any], *, name: str = "template") -> str:
    """Render `template` in the sandbox; data in `context` is never executed as a template."""
    try:
        return _ENV.from_string(template).render(**context)
    except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
        raise TemplateFailed(f"{name}: {error}") from error


def render_number(template: str | float, context: dict[str, Any], *, name: str) -> float:
    if isinstance(template, int | float):
        return float(template)
    text = render(template, context, name=name).strip()
    try:
        return float(text)
    except ValueError as error:
        raise TemplateFailed(f"{name}: {text!r} is not a number") from error
