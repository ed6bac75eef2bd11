"""ARCHITECTURE.md is the map of the core: every package says what it owns, every module is on it.

The map's core part lists each package of orchestrator/ on a line starting with its path
(`orchestrator/store/`) and its modules (`keys.py`) on the lines after it; the core's flat
modules follow `orchestrator/`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "orchestrator"
PACKAGE = re.compile(r"^\s*(orchestrator/(?:\w+/)?)\s")
MODULE = re.compile(r"\b(\w+)\.py\b")


def mapped() -> set[str]:
    """The modules the map names, as paths under the repository (`orchestrator/store/keys.py`)."""
    names: set[str] = set()
    package: str | None = None
    for line in (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        header = PACKAGE.match(line)
        if header:
            package = header.group(1)
        elif line.startswith(("```", "config/", "bot/", "handlers/")):
            package = None
        if package is not None:
            names.update(f"{package}{module}.py" for module in MODULE.findall(line))
    return names


def test_every_package_of_the_core_says_what_it_owns() -> None:
    packages = [CORE, *(init.parent for init in CORE.glob("*/__init__.py"))]
    silent = [
        str(package.relative_to(ROOT))
        for package in packages
        if not ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    ]
    assert silent == []


def test_every_module_of_the_core_is_on_the_map() -> None:
    modules = {
        str(path.relative_to(ROOT)) for path in CORE.rglob("*.py") if path.name != "__init__.py"
    }
    assert sorted(modules - mapped()) == []
