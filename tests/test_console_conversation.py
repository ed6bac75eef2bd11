"""The console as a person uses it: a question left, a new statement that is new, and
Confirm answered as things are (issue: a conversation a team can live with)."""

from __future__ import annotations

from pathlib import Path

from tests.test_console import console, env  # noqa: F401  (the fixture)

CHURN = "Cut monthly churn by 2% by the end of Q1"
TICKETS = "Reduce open tickets to 3 by 31 March"


async def test_a_question_can_be_left_and_a_new_statement_is_new(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    lines = [CHURN, "never mind", "confirm i1", CHURN, TICKETS, "confirm i3", "confirm i3"]
    session = await console(lines, env, tmp_path)
    assert session.code == 0, session.err
    first_question = session.answers_to(CHURN)
    assert any("percentage points" in line for line in first_question)
    assert any("cancel i1" in line for line in first_question), "a question can be left"
    assert "baton > Cancelled. Nothing was started." in session.answers_to("never mind")
    assert any(
        "was cancelled, has expired or never was" in line
        for line in session.answers_to("confirm i1")
    )
    # Said while the churn question waited: a statement of its own, not churn -> 3.0%.
    statement = "\n".join(session.answers_to(TICKETS))
    assert "open_tickets" in statement and "3.0%" not in statement
    tail = session.out.split("@olivia > confirm i3\n", 2)
    assert "Confirmed: outcome o3" in tail[1]
    assert "Outcome o3 was already confirmed by @olivia; it is active." in tail[2]
