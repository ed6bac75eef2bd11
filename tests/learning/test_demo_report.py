"""The demo's report credits the steps that act, each with its interval and control size,
never the lookups and drafts, and splits the movement into explained and unexplained."""

from __future__ import annotations

import io
import re

from bot.demo.story import run_demo
from orchestrator.models import OutcomeStatus


async def test_the_demo_report_credits_only_what_was_measured() -> None:
    out = io.StringIO()
    assert await run_demo(out) is OutcomeStatus.ACHIEVED
    text = out.getvalue()
    assert "Audience: 36 customers get this message; 4 are held back to measure its effect" in text
    report = text[text.index("Outcome o1 achieved") :].splitlines()
    lookups = [line for line in report if re.search(r"(find_at_risk|draft_winback) \[", line)]
    assert lookups and all(line.endswith("auto]") for line in lookups)  # no credit at all
    (winback,) = [line for line in report if "send_winback [" in line]
    assert re.search(
        r"effect [+-]\d+\.\d\d points of churn_rate \(95% CI .+\), 4 held back", winback
    )
    (managers,) = [line for line in report if "tell_account_managers [" in line]
    assert "not measured causally" in managers
    assert any("steps measured against a control group explain" in line for line in report)
    assert any("unexplained (trend, season, everything else)" in line for line in report)
