"""`baton check` run as a process: a table of readings, errors named, nothing written."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from bot.demo.simulation import Business

ROOT = Path(__file__).resolve().parents[2]
FAILING = """\
name: Failing CRM
connections:
  crm:
    kind: sql
    url: "sqlite:///${BATON_DEMO_DB}"
metrics:
  mrr:
    connection: crm
    unit: currency
    direction: increase
    query: SELECT ROUND(SUM(mrr), 0) FROM customers WHERE status = 'active'
  refunds:
    connection: crm
    unit: count
    direction: decrease
    query: SELECT COUNT(*) FROM refunds_that_do_not_exist
"""
INVALID = """\
name: Broken
connections:
  crm:
    kind: sql
    url: "sqlite:///${BATON_DEMO_DB}"
    timeout_s: -3
metrics: {}
"""


@dataclass
class Run:
    code: int
    out: str
    err: str


async def check(redis_url: str, prefix: str, crm: Path, workspace: Path | None = None) -> Run:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_DEMO_DB": str(crm),
    }
    env.pop("BATON_WORKSPACE", None)
    if workspace is not None:
        env["BATON_WORKSPACE"] = str(workspace)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "check",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def rows(run: Run) -> dict[str, list[str]]:
    """Table rows by metric name: [connection, metric, time, value...]."""
    table = run.out.split("  connection", 1)[1].splitlines()[1:]
    return {line.split()[1]: line.split() for line in table if line.strip()}


async def writes_nothing(redis: Redis, prefix: str, crm: Path, before: bytes) -> None:
    assert crm.read_bytes() == before
    assert [key async for key in redis.scan_iter(match=f"{prefix}*")] == []


async def test_the_demo_workspace_reads_every_metric(
    business: Business, redis: Redis, redis_url: str
) -> None:
    prefix, before = f"test:check:{uuid.uuid4().hex[:10]}", business.path.read_bytes()
    run = await check(redis_url, prefix, business.path)
    assert run.code == 0, run.err
    assert "valid" in run.out
    found = rows(run)
    assert {"churn_rate", "at_risk_customers", "open_tickets", "mrr"} <= set(found)
    for name in ("churn_rate", "at_risk_customers", "open_tickets", "mrr"):
        connection, _, seconds, value = found[name][:4]
        assert connection == "crm" and seconds.endswith("s") and float(seconds[:-1]) >= 0
        assert value[0].isdigit() and "ERROR" not in found[name]
    assert found["churn_rate"][3].endswith("%")
    await writes_nothing(redis, prefix, business.path, before)


async def test_a_failing_metric_names_its_connection_and_the_error(
    business: Business, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(FAILING)
    prefix, before = f"test:check:{uuid.uuid4().hex[:10]}", business.path.read_bytes()
    run = await check(redis_url, prefix, business.path, workspace)
    assert run.code != 0
    found = rows(run)
    assert found["mrr"][0] == "crm" and found["mrr"][3][0].isdigit()
    failed = " ".join(found["refunds"])
    assert found["refunds"][0] == "crm" and "ERROR" in failed
    assert "'crm'" in failed and "refunds_that_do_not_exist" in failed
    assert "1 error(s)" in run.err
    await writes_nothing(redis, prefix, business.path, before)


async def test_an_invalid_workspace_names_the_file_and_the_place(
    business: Business, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    workspace = tmp_path / "broken.yaml"
    workspace.write_text(INVALID)
    prefix, before = f"test:check:{uuid.uuid4().hex[:10]}", business.path.read_bytes()
    run = await check(redis_url, prefix, business.path, workspace)
    assert run.code != 0
    assert str(workspace) in run.err and "connections.crm.timeout_s" in run.err
    assert "Traceback" not in run.err + run.out
    await writes_nothing(redis, prefix, business.path, before)
