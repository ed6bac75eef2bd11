"""A fresh machine with the bundled workspace: every command works from nothing (its
example data is created on first use, under BATON_STATE_DIR, and that is said), and a
metric read never leaves a file behind."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from config.workspace import validate_workspace
from orchestrator.connectors import Connectors
from orchestrator.errors import ConnectorError

ROOT = Path(__file__).resolve().parents[1]


def fresh_env(state: Path) -> dict[str, str]:
    """Nothing set but where state goes: no Redis server, no workspace, no example data."""
    env = {**os.environ, "BATON_STATE_DIR": str(state), "PYTHONPATH": str(ROOT)}
    for variable in ("REDIS_URL", "BATON_WORKSPACE", "BATON_DEMO_DB", "BATON_KEY_PREFIX"):
        env.pop(variable, None)
    return env


async def baton(*args: str, cwd: Path, env: dict[str, str], typed: str = "") -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(typed.encode()), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_check_passes_on_a_fresh_machine_and_says_it_made_the_example_data(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    code, out = await baton("check", cwd=tmp_path, env=fresh_env(state))
    assert code == 0, out
    assert "Example data: created the bundled workspace's CRM" in out
    assert str(state / "demo-crm.sqlite3") in out
    assert "ERROR" not in out and "Traceback" not in out
    code, again = await baton("check", cwd=tmp_path, env=fresh_env(state))
    assert code == 0, again
    assert "Example data" not in again  # made once, then used


async def test_the_console_states_an_outcome_on_a_fresh_machine(tmp_path: Path) -> None:
    state = tmp_path / "state"
    typed = "Reduce churn by 2 points by 31 March\nconfirm i1\n"
    code, out = await baton("console", cwd=tmp_path, env=fresh_env(state), typed=typed)
    assert code == 0, out
    assert "embedded Redis" in out and "Example data: created" in out
    assert "churn_rate 8.3% -> 6.3% (-2 points)" in out
    assert "Confirmed: outcome o1 is active" in out
    assert "no such table" not in out and "could not measure" not in out


WORKSPACE = {
    "name": "Missing data",
    "connections": {"crm": {"kind": "sql", "url": "sqlite:///${CRM_PATH}"}},
    "metrics": {
        "mrr": {
            "connection": "crm",
            "unit": "currency",
            "direction": "increase",
            "query": "SELECT SUM(mrr) FROM customers",
        }
    },
}


@pytest.mark.parametrize("read_only", [False, True], ids=["process", "check"])
async def test_a_metric_read_never_creates_a_file(tmp_path: Path, read_only: bool) -> None:
    missing = tmp_path / "nowhere" / "crm.sqlite3"
    missing.parent.mkdir()
    workspace = validate_workspace(WORKSPACE, source="test")
    connectors = Connectors(workspace, {"CRM_PATH": str(missing)}, read_only=read_only)
    try:
        with pytest.raises(ConnectorError, match="unable to open database file"):
            await connectors.get("crm").measure(metric=workspace.metrics["mrr"])
    finally:
        await connectors.close()
    assert list(missing.parent.iterdir()) == []
