"""`${ENV_VAR}` references in the workspace file, resolved only where they are used."""

from __future__ import annotations

import re
from collections.abc import Mapping

from orchestrator.errors import ConfigError

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def references(text: str) -> list[str]:
    return [m.group(1) for m in _REF.finditer(text) if m.group(2) is None]


def expand(text: str, env: Mapping[str, str], *, where: str) -> str:
    """Replace `${NAME}` (or `${NAME:-default}`) with its value; a missing one is an error."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: environment variable {name} is not set")

    return _REF.sub(value, text)
