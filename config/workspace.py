"""Loading the workspace file: YAML, validated with pydantic, errors that say where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.catalog import Workspace
from orchestrator.errors import ConfigError


def load_workspace(path: Path) -> Workspace:
    """Read and validate `path`; a `ConfigError` names the file, the place and the problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the workspace file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: is not UTF-8 text (byte {error.start})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML") from None
    except ValueError as error:
        # PyYAML builds dates itself: `2027-13-45` is a ValueError, not a YAMLError.
        raise ConfigError(f"{path}: is not valid YAML ({error})") from None
    except RecursionError:
        raise ConfigError(f"{path}: is not valid YAML (nested too deeply)") from None
    return validate_workspace(raw, source=str(path))


def validate_workspace(raw: Any, *, source: str) -> Workspace:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the workspace file must be a mapping at the top level")
    try:
        return Workspace.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(
            f"{source}: " + "; ".join(_describe(e) for e in error.errors()[:5])
        ) from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: {error}") from None


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"
