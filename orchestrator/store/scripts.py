"""The Lua scripts the store runs, read from the `.lua` files next to this module.

Each file says which KEYS it takes; every key a script touches is one of them, except the
records a script reads through an index it was given (a step list's members), which are in
the index's slot by construction (the same hash tag) but cannot be named before it is read.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def script_text(name: str, package: str = "orchestrator.store") -> str:
    """The source of the script `name` (`<package>/lua/<name>.lua`: the store's by default,
    the chat pacing's in `bot`)."""
    return files(package).joinpath("lua", f"{name}.lua").read_text()
