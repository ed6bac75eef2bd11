"""Earned autonomy in `baton console`, typed as people type it, on the demo CRM: two
approved win-back sends measured, the third approval offers the rule, `autonomy <id>`
accepts it, `policies` lists it and the next send runs unasked; `revoke <id>` ends it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from tests.learning.test_autonomy import STATEMENTS, earning
from tests.test_console import Session, console, env  # noqa: F401  (the fixture)

APPROVE = re.compile(r"\[Approve: approve (a\d+)\]")


@pytest.fixture
def setup(env: dict[str, str], business: Business, tmp_path: Path) -> dict[str, str]:  # noqa: F811
    """The console on a copy of the demo CRM, with the test workspace of earned autonomy."""
    workspace_file = tmp_path / "workspace.yaml"
    earned = earning(load_workspace(DEMO_WORKSPACE))
    halved = earned.policy.model_copy(update={"holdout": 0.5})  # a clear effect from two runs
    earned = earned.model_copy(update={"policy": halved})
    workspace_file.write_text(yaml.safe_dump(earned.model_dump(mode="json", exclude_none=True)))
    return {**env, "BATON_WORKSPACE": str(workspace_file), "BATON_DEMO_DB": str(business.path)}


async def typed(lines: list[str], environ: dict[str, str], cwd: Path) -> Session:
    session = await console(lines, environ, cwd)
    assert session.code == 0, session.err
    return session


async def approved(statement: str, environ: dict[str, str], cwd: Path) -> tuple[str, Session]:
    stated = await typed([statement], environ, cwd)
    session = re.findall(r"confirm (i\d+)", stated.out)[-1]
    confirmed = await typed([f"confirm {session}"], environ, cwd)
    (approval,) = APPROVE.findall(confirmed.out)
    return approval, await typed(["as alice", f"approve {approval}"], environ, cwd)


async def test_earned_autonomy_in_the_console(
    setup: dict[str, str], business: Business, tmp_path: Path
) -> None:
    for statement in STATEMENTS[:2]:
        _, session = await approved(statement, setup, tmp_path)
        assert "autonomy a" not in session.out
    business.advance_day()
    for _ in range(4):
        business.advance_day()
    checked = await typed(["check o1", "check o2", "evidence"], setup, tmp_path)
    assert "send_winback on at_risk_customers: " in checked.out, checked.out
    approval, session = await approved(STATEMENTS[2], setup, tmp_path)
    assert "Approve this without asking next time? send_winback" in session.out, checked.out
    assert f"[Auto-approve within these bounds: autonomy {approval}]" in session.out

    accepted = await typed(["as bob", f"autonomy {approval}", "policies"], setup, tmp_path)
    assert "Rule added by @bob: auto-approve send_winback up to " in accepted.out
    assert f"[Revoke: revoke {approval}]" in accepted.out
    assert " · earned (accepted by @bob" in accepted.out

    stated = await typed([STATEMENTS[3]], setup, tmp_path)
    session = re.findall(r"confirm (i\d+)", stated.out)[-1]
    unasked = await typed([f"confirm {session}"], setup, tmp_path)
    assert not APPROVE.findall(unasked.out), unasked.out

    revoked = await typed(["as alice", f"revoke {approval}"], setup, tmp_path)
    assert "Rule revoked by @alice: auto-approve send_winback" in revoked.out
