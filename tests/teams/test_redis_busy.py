"""Redis refusing a Teams click (gone, too slow, out of memory) changes nothing and says so:
the person is asked to try again, never told it went wrong and left with a card that lies."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from handlers import texts
from orchestrator.models import ApprovalStatus
from orchestrator.runtime.queue import Delivery
from orchestrator.store.commit import Commit
from tests.teams.activities import execute
from tests.teams.conftest import TeamsTurns
from tests.teams.test_bot import state_outcome


@pytest.mark.parametrize(
    "error",
    [RedisConnectionError("Connection refused"), ResponseError("OOM command not allowed")],
    ids=["connection", "oom"],
)
async def test_a_click_redis_refuses_asks_to_try_again(
    teams: TeamsTurns, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    await state_outcome(teams)
    approval = teams.harness.gateway.buttons("approve")[-1]

    async def refused(commit: Commit, *, fenced_by: Delivery | None = None) -> None:
        raise error

    with monkeypatch.context() as patched:
        patched.setattr(teams.harness.store, "apply", refused)
        body = await teams.invoke(execute("alice", "approve", approval))
    assert body == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                    "value": texts.BUSY}  # fmt: skip
    assert (await teams.harness.store.approval(approval)).status is ApprovalStatus.PENDING
    await teams.invoke(execute("alice", "approve", approval))  # tried again: decided
    assert (await teams.harness.store.approval(approval)).status is ApprovalStatus.APPROVED
