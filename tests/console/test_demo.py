"""`baton demo`: the whole story, deterministic, through the console handlers."""

from __future__ import annotations

import io

from bot.demo.story import run_demo
from orchestrator.models import OutcomeStatus


async def test_demo_tells_the_whole_story_the_same_way_every_time() -> None:
    first, second = io.StringIO(), io.StringIO()
    assert await run_demo(first) is OutcomeStatus.ACHIEVED
    assert await run_demo(second) is OutcomeStatus.ACHIEVED
    text = first.getvalue()
    assert text == second.getvalue()
    story = [
        "@olivia > Cut monthly churn by 2%",
        "do you mean 2% relative",
        "@olivia > points",
        "Statement of Benefit",
        "@olivia > clicks Confirm",
        "Approval needed: Send the win-back message",
        "@alice > clicks Approve",
        "Approved by @alice",
        "@bob > clicks Reject",
        "Rejected by @bob",
        "Re-planned around @bob's rejection",
        "Outcome o1 achieved",
        "steps ran with no human decision",
    ]
    positions = [text.index(line) for line in story]
    assert positions == sorted(positions)
    assert "Traceback" not in text
