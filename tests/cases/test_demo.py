"""`baton demo onboarding`: the standing outcome's story, the same way every time."""

from __future__ import annotations

import io

from bot.demo.onboarding import run_onboarding


async def test_onboarding_demo_tells_the_same_story_every_time() -> None:
    first, second = io.StringIO(), io.StringIO()
    result = await run_onboarding(first)
    assert result.ok and (await run_onboarding(second)).ok
    text = first.getvalue()
    assert text == second.getvalue()
    assert result.stats.done == 6 and result.stats.share == 100.0 and result.approvals == 1
    story = [
        "@olivia > Every new customer is onboarded within 1 hour of signing",
        "Statement of Benefit",
        "Case source: contracts (sql)",
        "@olivia > clicks Confirm",
        "contract 1 signed: Acme Ltd",
        "contracts:1 (Acme Ltd) onboarded 60 s after signing",
        "no human involved",
        "contract 3 signed: Cobalt Freight",
        "Approval needed: Apply the contract's terms",
        "@alice > clicks Approve",
        "contracts:3 (Cobalt Freight) onboarded 15 min after signing",
        "a person approved apply_contract_terms",
        "Measured SLA share: 100.0% of 6 contracts onboarded within 1 h",
    ]
    positions = [text.index(line) for line in story]
    assert positions == sorted(positions)
    assert text.count("baton > Approval needed") == 1
    assert "Traceback" not in text
