"""Loading the workspace file: YAML, validated with pydantic, errors that say where."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.errors import ConfigError
from orchestrator.workspace.catalog import Workspace


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


DEFAULT_NAME = "default"
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class WorkspaceFiles:
    """Which workspace file serves which tenant (a Slack team id, a Teams tenant id)."""

    default: Workspace
    default_source: Path
    by_tenant: Mapping[str, Workspace] = field(default_factory=dict)
    """Files named after their tenant, all read and validated at start."""

    def of(self, tenant: str) -> Workspace:
        """The tenant's own file, else the default."""
        return self.by_tenant.get(tenant, self.default)

    def distinct(self) -> list[Workspace]:
        """Each loaded file once, the default first."""
        seen = {id(self.default): self.default}
        for workspace in self.by_tenant.values():
            seen.setdefault(id(workspace), workspace)
        return list(seen.values())


def load_workspaces(default_file: Path, directory: Path | None) -> WorkspaceFiles:
    """The default file plus, with `directory`, one file per tenant named `<tenant>.yaml`;
    `default.yaml` in the directory replaces `default_file`. Every file is validated now."""
    if directory is None:
        return WorkspaceFiles(load_workspace(default_file), default_file)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: BATON_WORKSPACES_DIR is not a directory")
    files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())
    loaded = {path.stem: load_workspace(path) for path in files}
    if len(loaded) != len(files):
        raise ConfigError(f"{directory}: two files name the same tenant (.yaml and .yml)")
    own_default = next((p for p in files if p.stem == DEFAULT_NAME), None)
    default = loaded.pop(DEFAULT_NAME, None) or load_workspace(default_file)
    return WorkspaceFiles(default, own_default or default_file, loaded)


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
