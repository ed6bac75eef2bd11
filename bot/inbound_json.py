"""JSON from the outside, read once at the door, so nothing later fails on its shape.

Python's parser raises `RecursionError` on deep nesting, a parsed `"\\ud800"` is a string that
cannot be written anywhere (Redis, orjson, an HTTP body), and every library past the door
(Bolt, botbuilder's serializer, orjson with its 255 levels) has limits of its own. A body
that passes `read_json` is valid UTF-8, at most `MAX_DEPTH` deep, with encodable strings.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
"""Far deeper than any Slack payload, Teams activity or webhook event Baton reads."""


class Unreadable(ValueError):
    """The body is not JSON Baton can read; the sender's error (400)."""


def read_json(raw: bytes | str) -> Any:
    """The parsed value of `raw`, or `Unreadable` saying why not."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text)
    except RecursionError:
        raise Unreadable(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError among them
        raise Unreadable(f"not JSON: {error}") from None
    check_value(value)
    return value


def read_object(raw: bytes | str) -> dict[str, Any]:
    """Like `read_json`, for a body that must be a JSON object."""
    value = read_json(raw)
    if not isinstance(value, dict):
        raise Unreadable(f"a JSON object was expected, not {type(value).__name__}")
    return value


def check_value(value: Any) -> None:
    """`Unreadable` unless `value` (parsed JSON) is shallow enough and its strings encode.

    Iterative, so that checking a deep value cannot itself run out of stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict | list) and depth > MAX_DEPTH:
            raise Unreadable(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key, item in node.items():
                _check_text(key)
                pending.append((item, depth + 1))
        elif isinstance(node, list):
            pending.extend((item, depth + 1) for item in node)
        elif isinstance(node, str):
            _check_text(node)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Unreadable("a string holds a lone surrogate (\\ud800-\\udfff)") from None
