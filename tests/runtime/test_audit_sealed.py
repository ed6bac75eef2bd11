"""Worker and clock processes that share one workspace seal its audit chain with the key in
their environment, each event vouching for the head its process last saw: however their
commits interleave (and with a worker killed mid-run), the chain comes out whole, in order
and sealed."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from redis.asyncio import Redis

from orchestrator.store.audit import verify
from orchestrator.store.audit_seal import AuditKeys, Seal
from tests.runtime.processes import (
    Processes,
    clean,
    context,
    reachable_redis,
    start_outcome,
    unique_prefix,
    until,
)

KEY = "k1:" + "7" * 40
OUTCOMES = 6
EVENTS = 150


async def test_workers_sharing_a_chain_keep_it_whole_and_sealed(
    tmp_path: Path, crm_template: Path
) -> None:
    url = await reachable_redis()
    redis = Redis.from_url(url)
    prefix = unique_prefix()
    db = tmp_path / "crm.sqlite3"
    db.write_bytes(crm_template.read_bytes())
    env = {
        "REDIS_URL": url,
        "BATON_KEY_PREFIX": prefix,
        "BATON_DEMO_DB": str(db),
        "BATON_AUDIT_KEYS": KEY,
        "BATON_CLOCK_EVERY_S": "0.2",
        "BATON_LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    ctx = context(redis, prefix)
    ctx.store.seal = Seal(
        AuditKeys.parse(KEY), ctx.keys.workspace_of_audit
    )  # this process writes too
    chain = ctx.keys.audit("T1")
    try:
        await ctx.queue.ensure_group()
        for number in range(1, OUTCOMES + 1):
            await start_outcome(ctx, number)
        workers = [processes.spawn("worker") for _ in range(3)]
        processes.spawn("clock")
        assert await until(lambda: _length_at_least(redis, chain, EVENTS // 2))
        processes.kill(workers[0], signal.SIGKILL)
        assert await until(lambda: _length_at_least(redis, chain, EVENTS))
        processes.close()
        verdict = await verify(ctx.store, "T1")
        assert verdict.intact and verdict.kid == "k1", verdict.problem
        entries = [json.loads(raw) for raw in await ctx.store.audit_entries("T1")]
        assert {json.loads(entry["seal"])["kid"] for entry in entries} == {"k1"}
        assert [entry["seq"] for entry in entries] == list(range(1, len(entries) + 1))
    finally:
        processes.close()
        await clean(redis, prefix)
        await redis.aclose()


async def _length_at_least(redis: Redis, chain: str, events: int) -> bool:
    return int(await redis.llen(chain)) >= events
