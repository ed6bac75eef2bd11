"""Sandboxed Jinja2 for parameter templates, drafts and cost expressions."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orchestrator.errors import BatonError

MAX_SIZE = 100_000
"""The longest string or list a template may build by `*`, and the largest exponent."""


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, plus bounds on `*` and `**`, which could otherwise
    build a string of gigabytes or a number that takes hours (`'a' * 10**10`, `9**9**9`)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_SIZE:
            raise SecurityError(f"the exponent {right} is larger than {MAX_SIZE}")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > MAX_SIZE:
                    raise SecurityError(f"the result would be longer than {MAX_SIZE}")
        return super().call_binop(context, operator, left, right)


_ENV = Sandbox(undefined=StrictUndefined, autoescape=False)


class TemplateFailed(BatonError):
    """A template could not be rendered; the message says which and why."""


@functools.lru_cache(maxsize=1024)
def _compiled(template: str) -> Template:
    """Templates come from the workspace file (a bounded set), so each compiles once:
    compiling costs a millisecond, far more than rendering, on every step of every case."""
    return _ENV.from_string(template)


def render(template: str, context: dict[str, Any], *, name: str = "template") -> str:
    """Render `template` in the sandbox; data in `context` is never executed as a template."""
    try:
        return _compiled(template).render(**context)
    except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
        raise TemplateFailed(f"{name}: {error}") from error
    except RecursionError:
        raise TemplateFailed(f"{name}: nested too deeply") from None


def render_number(template: str | float, context: dict[str, Any], *, name: str) -> float:
    if isinstance(template, int | float):
        return float(template)
    text = render(template, context, name=name).strip()
    try:
        return float(text)
    except ValueError as error:
        raise TemplateFailed(f"{name}: {text!r} is not a number") from error
