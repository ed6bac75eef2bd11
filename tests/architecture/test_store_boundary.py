"""Redis is an adapter of the core, not its interface: only the store
(`orchestrator/store/`) and the runtime's queue (`orchestrator/runtime/queue.py`) hold
the raw client. Every other module of the core and of handlers/ goes through the
store's named operations. Catching redis-py's exception types is allowed anywhere (a
worker, a clock or a conversation tells a Redis that refused from a bug)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("orchestrator", "handlers")
ALLOWED = ("orchestrator/store/", "orchestrator/runtime/queue.py")
EXCEPTIONS = "redis.exceptions"


def _checked_modules() -> list[Path]:
    found = [path for top in CHECKED for path in sorted((ROOT / top).rglob("*.py"))]
    return [p for p in found if not p.relative_to(ROOT).as_posix().startswith(ALLOWED)]


def _raw_client_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a module imports redis-py (other than its exceptions) or reaches a `.redis`."""
    uses: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Attribute) and node.attr == "redis":
            uses.append((node.lineno, "reaches the raw client (.redis)"))
            continue
        else:
            continue
        for name in names:
            if (name == "redis" or name.startswith("redis.")) and name != EXCEPTIONS:
                uses.append((node.lineno, f"imports {name}"))
    return uses


def test_only_the_store_and_the_queue_hold_the_raw_redis_client() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _checked_modules()
        for line, what in _raw_client_uses(ast.parse(path.read_text(), str(path)))
    ]
    assert offences == [], "use a named operation of orchestrator/store/:\n" + "\n".join(offences)


def test_the_check_sees_a_raw_client() -> None:
    source = (
        "from redis.asyncio import Redis\n"
        "import redis\n"
        "from redis.exceptions import RedisError\n"
        "async def f(ctx):\n"
        "    await ctx.store.redis.get('k')\n"
    )
    lines = [line for line, _ in _raw_client_uses(ast.parse(source))]
    assert sorted(lines) == [1, 2, 5]


def test_the_check_reads_every_module_it_guards() -> None:
    paths = {p.relative_to(ROOT).as_posix() for p in _checked_modules()}
    assert "handlers/names.py" in paths and "orchestrator/notify/outages.py" in paths
    assert not any(p.startswith("orchestrator/store/") for p in paths)


def test_every_script_of_the_store_declares_its_keys() -> None:
    """A script's header comment says which KEYS it takes (cluster mode routes by them)."""
    scripts = sorted((ROOT / "orchestrator" / "store" / "lua").glob("*.lua"))
    assert scripts
    for script in scripts:
        header = [line for line in script.read_text().splitlines() if line.startswith("--")]
        assert any("KEYS" in line for line in header), f"{script.name} does not declare its KEYS"
