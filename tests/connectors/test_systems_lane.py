"""The systems lane end to end: a webhook action through approval, outage, retry, incident."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from orchestrator.connectors import Connectors
from orchestrator.models import StepStatus
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import Connection, Workspace
from tests.conftest import Harness, build_harness
from tests.connectors.conftest import ENV, SIGNING
from tests.connectors.servers import Receiver

STATEMENT = "Cut monthly churn by 2 points by end of Q1"


@pytest.fixture
async def wired(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business, receiver: Receiver
) -> AsyncIterator[Harness]:
    """The demo, with the win-back message sent to a signed webhook instead of the CRM."""
    hook = Connection(
        kind="webhook",
        url=receiver.url + "/hooks/mail",
        secret="${HOOK_SECRET}",
        retries=0,
        allow_private=("127.0.0.1/32",),
    )
    send = workspace.actions["send_winback"].model_copy(
        update={"connection": "hook", "statement": None}
    )
    changed = workspace.model_copy(
        update={
            "connections": {**workspace.connections, "hook": hook},
            "actions": {**workspace.actions, "send_winback": send},
        }
    )
    built = build_harness(redis, keys, changed, business)
    connectors = Connectors(changed, {**ENV, "BATON_DEMO_DB": str(business.path)})
    built.runtime.ctx.connectors_of = lambda tenant: connectors
    built.connectors = connectors
    await built.runtime.start()
    yield built
    await built.connectors.close()


async def _send_step(harness: Harness, outcome_id: str, rounds: int) -> StepStatus:
    for approval in harness.gateway.buttons("approve"):
        await harness.click("alice", "approve", approval)
    for _ in range(rounds):  # retries wait 1, 2, 4, 8 s of the manual clock
        harness.clock.advance(timedelta(seconds=20))
        await harness.runtime.drain()
    steps = await harness.store.steps(outcome_id)
    return next(s for s in steps if s.action == "send_winback").status


async def test_an_outage_is_retried_and_the_message_goes_out_once(
    wired: Harness, receiver: Receiver
) -> None:
    receiver.fail_next = 2
    outcome_id = await wired.state("olivia", STATEMENT)
    assert await _send_step(wired, outcome_id, rounds=5) is StepStatus.SUCCEEDED
    assert len(receiver.accepted) == 1 and receiver.bad_signatures == 0
    [(key, body)] = receiver.accepted.items()
    assert key.startswith("s") and len(body["json"]["rows"]) > 0
    assert receiver.deliveries.count(key) == 3


async def test_repeated_failure_fails_the_step_and_raises_an_incident(
    wired: Harness, receiver: Receiver
) -> None:
    receiver.fail_next = 100
    outcome_id = await wired.state("olivia", STATEMENT)
    assert await _send_step(wired, outcome_id, rounds=8) is StepStatus.FAILED
    assert receiver.accepted == {}
    titles = wired.gateway.titles()
    assert any("action_failing" in t for t in titles)
    assert any(t.startswith("Did not run: send_winback") for t in titles)
    assert SIGNING not in str(titles)


async def test_shadow_outcome_records_the_request_and_sends_nothing(
    wired: Harness, receiver: Receiver
) -> None:
    outcome_id = await wired.state("olivia", STATEMENT + " in shadow mode")
    assert await _send_step(wired, outcome_id, rounds=1) is StepStatus.SUCCEEDED
    assert receiver.deliveries == []
    step = next(s for s in await wired.store.steps(outcome_id) if s.action == "send_winback")
    request = step.output["receipt"]["requests"][0]
    assert step.shadow and request["headers"]["Idempotency-Key"] == step.id
    assert any(
        t.startswith("[shadow] Done: send_winback (") and "would send 1 events" in t
        for t in wired.gateway.titles()
    )
