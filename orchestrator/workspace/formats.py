"""Checking a metric's `format` once, at load, so showing a reading can never fail."""

from __future__ import annotations

import re
import string

MAX_SHOWN_CHARS = 64
"""A reading is a short label; a wider one is a width typo (or an attempt to fill memory)."""

_SAMPLES = (0.0, -1.5, 12.345, 1e12)
_NUMBER = re.compile(r"\d+")


def check_number_format(text: str) -> str:
    """`text` if it shows any number as a short string with one `{}` field; else ValueError.

    Only the positional field `{}` / `{0}` is allowed: names (`{x}`), other positions and
    attribute or item access (`{0.real}`, `{0[1]}`) would fail or reach into objects.
    """
    try:
        fields = [
            (name, spec) for _, name, spec, _ in string.Formatter().parse(text) if name is not None
        ]
    except ValueError as error:
        raise ValueError(f"{text!r} is not a format string ({error})") from None
    if len(fields) != 1 or fields[0][0] not in ("", "0"):
        raise ValueError(f"{text!r} must have exactly one field, {{}} or {{:spec}}, for the value")
    # Widths and precisions are checked before formatting would allocate them.
    if any(len(n) > 3 or int(n) > MAX_SHOWN_CHARS for n in _NUMBER.findall(fields[0][1] or "")):
        raise ValueError(f"{text!r} is wider than {MAX_SHOWN_CHARS} characters")
    for value in _SAMPLES:
        try:
            shown = text.format(value)
        except (ValueError, TypeError, IndexError, KeyError) as error:
            raise ValueError(f"{text!r} cannot show a number ({error})") from None
        if len(shown) > MAX_SHOWN_CHARS:
            raise ValueError(f"{text!r} shows more than {MAX_SHOWN_CHARS} characters")
    return text
