"""The bundled example workspace's data, made on first use so every command works on a
fresh machine: `baton check`, `console`, `run` and the rest read the same small CRM that
`baton demo` stages, kept under `BATON_STATE_DIR`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE, Settings
from handlers import texts

EXAMPLE_DB_VARIABLE = "BATON_DEMO_DB"
"""The variable the bundled workspace's `crm` connection reads its SQLite path from."""
EXAMPLE_DB_FILE = "demo-crm.sqlite3"


def example_env(settings: Settings, env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """`env` with the example's data in place, and a line saying what was done ("" if
    nothing). Only the bundled workspace is seeded, and only when `BATON_DEMO_DB` is
    unset: a path someone chose is theirs, never written here."""
    out = dict(env)
    if not _is_example(settings.workspace_file) or out.get(EXAMPLE_DB_VARIABLE):
        return out, ""
    path = (settings.state_dir / EXAMPLE_DB_FILE).absolute()
    out[EXAMPLE_DB_VARIABLE] = str(path)
    if path.exists():
        return out, ""
    _seed(path)
    return out, texts.EXAMPLE_SEEDED.format(path=path)


def _is_example(workspace_file: Path) -> bool:
    try:
        return workspace_file.resolve() == DEMO_WORKSPACE.resolve()
    except OSError:
        return False


def _seed(path: Path) -> None:
    """Build the CRM beside `path`, then link it in: two processes starting at once never
    see half a database, and the second keeps the first one's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        Business(building).create()
        with contextlib.suppress(FileExistsError):  # another process was first: keep its
            os.link(building, path)
    finally:
        building.unlink(missing_ok=True)
