"""Request payloads from sandboxed templates: URLs, headers and JSON bodies.

Each string in a body is its own template, so drafted text is data inside a JSON string
and can never break out of it; a string that is exactly one `{{ expression }}` keeps the
expression's type (a number stays a number).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateError

from orchestrator.steps.templates import Sandbox, render

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_ONE_EXPRESSION = re.compile(r"^\{\{(?P<expr>[^{}]*)\}\}$")
_SANDBOX = Sandbox(undefined=StrictUndefined, autoescape=False)
# In a URL every value is percent-encoded, so data cannot add a path, a query or a host.
_URL_SANDBOX = Sandbox(
    undefined=StrictUndefined, autoescape=False, finalize=lambda value: quote(str(value), safe="")
)


class PayloadError(ValueError):
    """A payload template could not be rendered into JSON."""


def render_body(body: Any, context: dict[str, Any], *, name: str) -> Any:
    """`body` with every string rendered in the sandbox against `context`."""
    if isinstance(body, str):
        return _render_string(body, context, name=name)
    if isinstance(body, dict):
        return {str(k): render_body(v, context, name=f"{name}.{k}") for k, v in body.items()}
    if isinstance(body, list | tuple):
        return [render_body(v, context, name=f"{name}[{i}]") for i, v in enumerate(body)]
    return body


def _render_string(text: str, context: dict[str, Any], *, name: str) -> Any:
    whole = _ONE_EXPRESSION.match(text.strip())
    if whole is None:
        return render(text, context, name=name)
    try:
        value = _SANDBOX.compile_expression(whole.group("expr"))(**context)
        json.dumps(value)
    except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
        raise PayloadError(f"{name}: {error}") from error
    except RecursionError:
        raise PayloadError(f"{name}: nested too deeply") from None
    return value


def render_url(template: str, context: dict[str, Any], *, name: str) -> str:
    """A URL template rendered with every value percent-encoded."""
    try:
        return _URL_SANDBOX.from_string(template).render(**context)
    except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
        raise PayloadError(f"{name}: {error}") from error
    except RecursionError:
        raise PayloadError(f"{name}: nested too deeply") from None


def join_url(base: str, url: str) -> str:
    """`url` when absolute, else appended to `base`."""
    if not url or _ABSOLUTE.match(url):
        return url or base
    return base.rstrip("/") + "/" + url.lstrip("/")


def encode(body: Any) -> bytes:
    """The JSON bytes sent and signed (compact, stable key order)."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()
