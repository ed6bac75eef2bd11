"""A real `baton worker` process is killed -9 in the middle of a case step; another
worker process reclaims the case job and the case finishes exactly once.

The welcome email's statement is made slow on purpose (a recursive count), so the kill
lands while the step's SQL runs or just after it committed; either way the rescuer re-runs
the step under the same idempotency key and every effect stays single.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from config.settings import DEMO_WORKSPACE
from config.workspace import load_workspace
from orchestrator.models import CaseStatus
from orchestrator.runtime.clock import ManualClock
from orchestrator.store.keys import Keys
from tests.cases.conftest import TABLES, audit_actions, stand
from tests.conftest import Harness, build_harness
from tests.runtime.processes import Processes, clean, reachable_redis, unique_prefix, until

QUICK_VALUES = (
    "      VALUES (:idempotency_key, :id, :email, 'Welcome to Northwind, ' || :customer || '!')\n"
)
SLOW_SELECT = (
    "      SELECT :idempotency_key, :id, :email, 'Welcome to Northwind, ' || :customer || '!'\n"
    "      WHERE (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n\n"
    "             WHERE x < 3000000) SELECT COUNT(*) FROM n) > 0\n"
)


def slow_workspace(directory: Path) -> Path:
    """The demo workspace with a slow welcome email and a contracts poll every 0.2 s."""
    text = DEMO_WORKSPACE.read_text()
    assert text.count(QUICK_VALUES) == 1 and text.count("every_s: 60\n") == 1
    path = directory / "workspace.yaml"
    path.write_text(
        text.replace(QUICK_VALUES, SLOW_SELECT).replace("every_s: 60\n", "every_s: 0.2\n")
    )
    return path


@dataclass
class Setup:
    harness: Harness
    processes: Processes
    keys: Keys


@pytest.fixture
async def setup(tmp_path: Path, crm_template: Path) -> AsyncIterator[Setup]:
    url = await reachable_redis()
    redis = Redis.from_url(url)
    keys = Keys(unique_prefix())
    business = Business(tmp_path / "crm.sqlite3")
    business.path.write_bytes(crm_template.read_bytes())
    workspace = slow_workspace(tmp_path)
    harness = build_harness(
        redis, keys, load_workspace(workspace), business, ManualClock(datetime.now(UTC))
    )
    await harness.runtime.start()
    env = {
        "REDIS_URL": url,
        "BATON_KEY_PREFIX": keys.prefix,
        "BATON_WORKSPACE": str(workspace),
        "BATON_DEMO_DB": str(business.path),
        "BATON_WORKER_VISIBILITY_S": "2",
        "BATON_CLOCK_EVERY_S": "0.2",
        "BATON_SHUTDOWN_GRACE_S": "3",
        "BATON_LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    try:
        yield Setup(harness, processes, keys)
    finally:
        processes.close()
        await harness.connectors.close()
        await clean(redis, keys.prefix)
        await redis.aclose()


async def test_a_worker_process_killed_mid_case_step_finishes_the_case_once(
    setup: Setup,
) -> None:
    harness, processes = setup.harness, setup.processes
    store, redis = harness.store, harness.store.redis
    await stand(harness)  # confirmed in this process; the workers do the cases
    number = harness.business.sign_contract(
        "Acme Ltd", "team", datetime.now(UTC).isoformat(), terms=""
    )
    case_id = f"contracts:{number}"
    workers = [processes.spawn("worker") for _ in range(2)]
    processes.spawn("clock")
    victims: list[int] = []

    async def welcoming() -> bool:
        """The case is at its slow step (the welcome email) under a worker's lease."""
        owner = await redis.get(setup.keys.lease(f"case:{case_id}"))
        if owner is None or not await redis.exists(setup.keys.case(case_id)):
            return False
        case = await store.case(case_id)
        if case.status is not CaseStatus.RUNNING or case.position != 1:
            return False
        text = owner.decode() if isinstance(owner, bytes) else str(owner)
        victims[:] = [int(text.rsplit("-", 2)[1])]
        return True

    reached = await until(welcoming, rounds=1500, every_s=0.02)
    assert reached, f"the case never reached its step: {await state(setup, case_id)}"
    victim = next(w for w in workers if w.pid == victims[0])
    processes.kill(victim)  # SIGKILL: no shutdown, the job stays unacknowledged
    assert victim.returncode == -signal.SIGKILL

    async def done() -> bool:
        return (await store.case(case_id)).status is CaseStatus.DONE

    assert await until(done, rounds=250, every_s=0.1), "no other worker finished the case"
    assert [harness.business.count(t, number) for t in TABLES] == [1, 1, 1, 1]
    actions = await audit_actions(harness, f"case:{case_id}")
    assert actions.count("case.done") == 1 and actions.count("case.step") == 4
    assert await harness.runtime.ctx.queue.dead() == 0


async def state(setup: Setup, case_id: str) -> str:
    """What the case and the queue look like, for a failure message."""
    redis = setup.harness.store.redis
    if not await redis.exists(setup.keys.case(case_id)):
        return f"no case; pending jobs {await setup.harness.runtime.ctx.queue.pending()}"
    case = await setup.harness.store.case(case_id)
    return f"{case.status.value} at step {case.position}"
