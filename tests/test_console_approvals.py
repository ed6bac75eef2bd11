"""Approvals in `baton console`, typed as people type them: what waits for me, away and
a delegate, and `edit a3 <text>` approving the corrected draft."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_console import STATEMENT, console, env  # noqa: F401  (the fixture)

NEW_DRAFT = "Subject: A short note from Northwind - reply and we will call you"


async def test_my_approvals_away_and_edit_in_the_console(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    started = await console([STATEMENT, "confirm i1"], env, tmp_path)
    approval = re.findall(r"\[Approve: approve (a\d+)\]", started.out)[0]
    edit = f"edit {approval} {NEW_DRAFT}"
    lines = [
        "as alice",
        "what waits for me?",
        "away until 2099-01-10, delegate @bob",
        "as bob",
        "approvals",
        edit,
    ]
    session = await console(lines, env, tmp_path)
    assert session.code == 0, session.err
    waiting = "\n".join(session.answers_to("@alice > what waits for me?"))
    assert "Waiting for your decision (1)" in waiting and f"{approval}: " in waiting
    assert "@bob decides your approvals" in "\n".join(
        session.answers_to("@alice > away until 2099-01-10, delegate @bob")
    )
    edited = "\n".join(session.answers_to(f"@bob > {edit}"))
    assert f"You approved {approval} as edited" in edited, session.out
    assert f"+{NEW_DRAFT}" in edited
    assert "Approved by @bob" in session.out
