"""The audit chain is sealed with a key Redis never holds: someone who can write Redis but
does not hold the key cannot change an event, recompute the chain, cut it short behind a
posted head, or move it to another key, without `baton audit verify` saying so."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.demo.simulation import Business
from config.settings import Settings
from orchestrator.errors import ConfigError, Unavailable
from orchestrator.runtime.messages import PostDigest
from orchestrator.store import transitions
from orchestrator.store.audit import PostedHead, export, verify
from orchestrator.store.audit_seal import (
    ROTATED,
    AuditKeys,
    Head,
    Seal,
    event_mac,
    head_fingerprint,
    link_hash,
)
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Workspace
from tests.conftest import START, Harness, build_harness

ROOT = Path(__file__).resolve().parents[2]
K1 = "k1:" + "1" * 40
K2 = "k2:" + "2" * 40
CHURN = "Cut monthly churn by 2 points by end of Q1"


def sealed_with(store: RedisStore, keys: str) -> RedisStore:
    """`store` sealing with `keys` (BATON_AUDIT_KEYS), as a process configured so would."""
    store.seal = Seal(AuditKeys.parse(keys), store.keys.workspace_of_audit)
    return store


@pytest.fixture
async def keyed(
    redis: Redis, keys: Keys, workspace: Workspace, business: Business
) -> AsyncIterator[Harness]:
    """Baton wired with the audit key K1 and one confirmed outcome that has ticked."""
    built = build_harness(redis, keys, workspace, business)
    sealed_with(built.store, K1)
    await built.runtime.start()
    await built.state("olivia", CHURN)
    yield built
    await built.connectors.close()


async def entries(store: RedisStore) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in await store.audit_entries("T1")]


async def rewrite(
    store: RedisStore, chain: list[dict[str, Any]], reseal: Any, start: int = 0
) -> None:
    """Write `chain` back renumbered, with every link from entry `start` on recomputed
    (`reseal(entry)` first redoes its seal or drops it), head too, as an attacker who can
    write Redis would."""
    prev = chain[start - 1]["hash"] if start else ""
    for seq, entry in enumerate(chain[start:], start=start + 1):
        entry["seq"], entry["prev"] = seq, prev
        reseal(entry)
        entry["hash"] = prev = link_hash(prev, seq, entry["body"], entry.get("seal", ""))
    key = store.keys.audit("T1")
    await store.redis.delete(key)
    await store.redis.rpush(key, *[json.dumps(entry) for entry in chain])
    await store.redis.hset(key + ":head", mapping={"seq": len(chain), "hash": prev})


def tamper(chain: list[dict[str, Any]], index: int) -> None:
    body = json.loads(chain[index]["body"])
    body["actor"] = "mallory"
    chain[index]["body"] = json.dumps(body)


def unsealed(entry: dict[str, Any]) -> None:
    """Drop the seal: the entry is linked as entries without a key are."""
    entry.pop("seal", None)


def seal_kept(entry: dict[str, Any]) -> None:
    """Keep the seal as it was (the attacker cannot recompute it)."""


def sealed_with_a_guessed_key(entry: dict[str, Any]) -> None:
    seal = json.loads(entry["seal"])
    vouched = (seal["v"][0], seal["v"][1])
    seal["mac"] = event_mac(b"0" * 40, "T1", seal["kid"], seal["n"], vouched, entry["body"])
    entry["seal"] = json.dumps(seal)


async def test_a_sealed_chain_verifies_and_each_event_carries_an_hmac(keyed: Harness) -> None:
    chain = await entries(keyed.store)
    verdict = await verify(keyed.store, "T1")
    assert verdict.intact and verdict.kid == "k1" and verdict.events == len(chain) > 10
    last = chain[-1]
    seal = json.loads(last["seal"])
    vouched_seq, vouched_hash = seal["v"]
    assert 0 < vouched_seq < last["seq"] and chain[vouched_seq - 1]["hash"] == vouched_hash
    message = f"T1\nk1\n{seal['n']}\n{vouched_seq}\n{vouched_hash}\n{last['body']}".encode()
    assert seal["mac"] == hmac.new(b"1" * 40, message, hashlib.sha256).hexdigest()
    assert last["hash"] == link_hash(last["prev"], last["seq"], last["body"], last["seal"])
    fingerprint = head_fingerprint(b"1" * 40, "T1", last["seq"], last["hash"])
    assert verdict.head == f"{last['seq']}:{fingerprint}"
    stored = await keyed.store.audit_head(keyed.store.keys.audit("T1"))
    assert stored == Head(last["seq"], last["hash"], "k1")


@pytest.mark.parametrize("reseal", [unsealed, seal_kept, sealed_with_a_guessed_key])
@pytest.mark.parametrize("changed", [0, 5])
async def test_an_event_rewritten_with_every_later_hash_recomputed_is_caught(
    keyed: Harness, reseal: Any, changed: int
) -> None:
    chain = await entries(keyed.store)
    tamper(chain, changed)
    await rewrite(keyed.store, chain, reseal, start=changed)
    verdict = await verify(keyed.store, "T1")
    assert not verdict.intact
    if reseal is not unsealed:
        assert verdict.problem == f"event {changed + 1} was changed"
    elif changed:
        assert verdict.problem == (
            f"event {changed + 1} is not sealed with a key although the events before it are"
        )
    else:  # every entry rewritten without a key: nothing in the chain is sealed any more
        assert verdict.problem.startswith(f"events 1-{len(chain)} are not sealed with a key")


async def test_an_event_removed_reordered_or_replayed_is_caught(keyed: Harness) -> None:
    """Seals kept as they were, the chain renumbered and relinked around the change."""
    original = await entries(keyed.store)
    removed = original[:5] + original[6:]
    reordered = [*original[:5], original[6], original[5], *original[7:]]
    replayed = [*original[:8], dict(original[4]), *original[8:]]
    for chain in (removed, reordered, replayed):
        await rewrite(keyed.store, [dict(e) for e in chain], seal_kept, start=5)
        problem = (await verify(keyed.store, "T1")).problem
        assert "vouches for another chain" in problem or problem == "event 9 repeats event 5"
    await rewrite(keyed.store, [dict(e) for e in replayed], seal_kept, start=5)
    assert (await verify(keyed.store, "T1")).problem == "event 9 repeats event 5"
    await rewrite(keyed.store, [dict(e) for e in original], seal_kept)
    assert (await verify(keyed.store, "T1")).intact


async def test_without_a_key_the_same_rewrite_goes_unnoticed(harness: Harness) -> None:
    """Why the key: an unkeyed chain rewritten end to end still verifies (and says so)."""
    await harness.state("olivia", CHURN)
    chain = await entries(harness.store)
    tamper(chain, 5)
    await rewrite(harness.store, chain, unsealed, start=5)
    verdict = await verify(harness.store, "T1")
    assert verdict.intact and verdict.unkeyed == len(chain)


async def test_a_trail_written_before_the_key_is_sealed_by_the_rotation(harness: Harness) -> None:
    """Events from before the key: once the chain moves to a key, the rotation vouches for
    them, and a rewrite of them (recomputable without a key) is caught."""
    await harness.state("olivia", CHURN)
    legacy = len(await entries(harness.store))
    sealed_with(harness.store, K1)
    assert (await verify(harness.store, "T1")).problem.startswith(
        f"events 1-{legacy} are not sealed with a key and no sealed event vouches for them"
    )
    assert await harness.store.rotate_audit_key("T1", START.isoformat())
    chain = await entries(harness.store)
    assert json.loads(chain[legacy]["seal"])["v"] == [legacy, chain[legacy - 1]["hash"]]
    assert (await verify(harness.store, "T1")).intact
    tamper(chain, 2)
    await rewrite(harness.store, chain, seal_kept, start=2)
    assert (await verify(harness.store, "T1")).problem == (
        f"event {legacy + 1} vouches for another chain up to event {legacy}: events up to "
        "there were removed, inserted or reordered"
    )


async def test_an_event_moved_to_another_workspace_is_caught(keyed: Harness) -> None:
    chain = await entries(keyed.store)
    other = keyed.store.keys.audit("T2")
    await keyed.store.redis.rpush(other, *[json.dumps(entry) for entry in chain])
    last = chain[-1]
    await keyed.store.redis.hset(
        other + ":head", mapping={"seq": last["seq"], "hash": last["hash"]}
    )
    assert (await verify(keyed.store, "T2")).problem == "event 1 was changed"


async def test_two_writers_sealing_one_chain_at_once_keep_it_whole(
    keyed: Harness, redis_url: str
) -> None:
    """Writers that each remember a head of their own (processes): every event lands
    once, in order, sealed; a writer whose head moved seals again."""
    clients = [Redis.from_url(redis_url) for _ in range(3)]
    stores = [sealed_with(RedisStore(c, keyed.store.keys), K1) for c in clients]
    before = len(await entries(keyed.store))

    async def write(store: RedisStore, n: int) -> None:
        for i in range(20):
            commit = transitions.audit(
                Commit(), store.keys, "T1", actor="system", at=START,
                action="test.event", subject=f"writer:{n}:{i}",
            )  # fmt: skip
            await store.apply(commit)

    try:
        await asyncio.gather(*(write(store, n) for n, store in enumerate(stores)))
    finally:
        for client in clients:
            await client.aclose()
    chain = await entries(keyed.store)
    subjects = [json.loads(e["body"])["subject"] for e in chain[before:]]
    assert sorted(subjects) == sorted(f"writer:{n}:{i}" for n in range(3) for i in range(20))
    assert (await verify(keyed.store, "T1")).intact


async def test_a_rotated_key_is_recorded_and_both_keys_verify(keyed: Harness) -> None:
    before = await entries(keyed.store)
    sealed_with(keyed.store, f"{K2},{K1}")
    await keyed.click("alice", "approve", keyed.gateway.buttons("approve")[-1])
    chain = await entries(keyed.store)
    rotation = chain[len(before)]
    body = json.loads(rotation["body"])
    assert body["action"] == ROTATED and body["detail"] == {"to": "k2"}
    kids = [json.loads(e["seal"])["kid"] for e in chain]
    assert kids == ["k1"] * len(before) + ["k2"] * (len(chain) - len(before))
    assert sum(json.loads(e["body"])["action"] == ROTATED for e in chain) == 1
    verdict = await verify(keyed.store, "T1")
    assert verdict.intact and verdict.kid == "k2"
    sealed_with(keyed.store, K2)  # k1 dropped while events it sealed remain: cannot check
    assert (await verify(keyed.store, "T1")).problem == (
        "event 1 is sealed with key k1, which BATON_AUDIT_KEYS does not list"
    )


async def test_a_leaked_old_key_cannot_extend_the_chain_after_a_rotation(
    keyed: Harness,
) -> None:
    sealed_with(keyed.store, f"{K2},{K1}")
    await keyed.click("alice", "approve", keyed.gateway.buttons("approve")[-1])
    chain = await entries(keyed.store)
    last = chain[-1]
    approved = {**json.loads(last["body"]), "actor": "mallory", "action": "approval.approved"}
    back_to_k1 = {**approved, "action": ROTATED, "detail": {"to": "k1"}}
    key = keyed.store.keys.audit("T1")
    for n, forged in enumerate((approved, back_to_k1)):  # an event, or a rotation back to k1
        body, seq, vouched = json.dumps(forged), last["seq"] + 1, (last["seq"], last["hash"])
        mac = event_mac(b"1" * 40, "T1", "k1", f"forged.{n}", vouched, body)
        seal = json.dumps({"kid": "k1", "n": f"forged.{n}", "v": vouched, "mac": mac})
        hash_ = link_hash(last["hash"], seq, body, seal)
        entry = {"seq": seq, "prev": last["hash"], "hash": hash_, "body": body, "seal": seal}
        await keyed.store.redis.rpush(key, json.dumps(entry))
        await keyed.store.redis.hset(key + ":head", mapping={"seq": seq, "hash": hash_})
        problem = (await verify(keyed.store, "T1")).problem
        assert problem == f"event {seq} is sealed with key k1 without a rotation from k2"
        await keyed.store.redis.rpop(key)
        await keyed.store.redis.hset(key + ":head", mapping={"seq": seq - 1, "hash": last["hash"]})
    assert (await verify(keyed.store, "T1")).intact


async def test_a_process_without_the_chains_key_does_not_write_it(keyed: Harness) -> None:
    """A process not restarted with the new key (or with none) waits rather than write
    events that verify would have to reject; it says which key it lacks."""
    sealed_with(keyed.store, f"{K2},{K1}")
    await keyed.click("alice", "approve", keyed.gateway.buttons("approve")[-1])
    before = await entries(keyed.store)
    for stale in (RedisStore(keyed.store.redis, keyed.store.keys), sealed_with(
        RedisStore(keyed.store.redis, keyed.store.keys), K1
    )):  # fmt: skip
        commit = transitions.audit(
            Commit(), stale.keys, "T1", actor="system", at=START, action="test.event",
            subject="stale", detail={"value": 1},
        )  # fmt: skip
        with pytest.raises(Unavailable, match="sealed with key k2, which this process does not"):
            await stale.apply(commit)
        assert not commit.applied
    assert await entries(keyed.store) == before


async def test_a_chain_cut_short_is_caught_against_the_head_the_digest_posted(
    keyed: Harness,
) -> None:
    await keyed.runtime.ctx.queue.enqueue(PostDigest())
    sent = len(keyed.gateway.sent)
    await keyed.runtime.drain()
    footer = keyed.gateway.sent[sent].card.footer
    text = footer.split("--head ")[1].split("`")[0]
    posted = PostedHead.parse(text)
    chain = await entries(keyed.store)
    fingerprint = head_fingerprint(b"1" * 40, "T1", len(chain), chain[-1]["hash"])
    assert posted == PostedHead(len(chain), fingerprint)
    assert (await verify(keyed.store, "T1", [posted])).intact
    # Cut the last three events and point the head at what is left: a consistent chain.
    key = keyed.store.keys.audit("T1")
    await keyed.store.redis.ltrim(key, 0, len(chain) - 4)
    last = chain[-4]
    await keyed.store.redis.hset(key + ":head", mapping={"seq": last["seq"], "hash": last["hash"]})
    assert (await verify(keyed.store, "T1")).intact  # nothing inside the chain shows it
    assert (await verify(keyed.store, "T1", [posted])).problem == (
        f"the chain ends at event {len(chain) - 3}, before the posted head {posted}"
    )


async def test_a_rebuilt_chain_does_not_match_the_posted_head(harness: Harness) -> None:
    """Even unkeyed, a head posted outside Redis catches a chain rewritten after it."""
    await harness.state("olivia", CHURN)
    posted = PostedHead.parse((await verify(harness.store, "T1")).head)
    chain = await entries(harness.store)
    tamper(chain, 2)
    await rewrite(harness.store, chain, unsealed)
    assert (await verify(harness.store, "T1", [posted])).problem == (
        f"event {posted.seq} does not match the posted head {posted}: it was rewritten"
    )


async def test_the_export_carries_each_events_seal(keyed: Harness) -> None:
    chain = await entries(keyed.store)
    lines = (await export(keyed.store, "T1", "json")).splitlines()
    assert [json.loads(line)["seal"] for line in lines] == [e["seal"] for e in chain]
    rows = list(csv.DictReader(io.StringIO(await export(keyed.store, "T1", "csv"))))
    assert [row["seal"] for row in rows] == [e["seal"] for e in chain]


def test_posted_heads_are_parsed_strictly() -> None:
    assert PostedHead.parse("120:3F9A0C1D") == PostedHead(120, "3f9a0c1d")
    for bad in ("120", "0:3f9a0c1d", "x:3f9a0c1d", "120:3f9a", "120:zzzzzzzz"):
        with pytest.raises(ValueError, match="is not a posted head"):
            PostedHead.parse(bad)


def test_keys_are_parsed_strictly() -> None:
    ring = AuditKeys.parse(f"{K2}, {K1}")
    assert ring.current == "k2" and ring.newer("k2", "k1") and not ring.newer("k1", "k2")
    assert AuditKeys.parse(key="s" * 32).current == "k1"
    for keys, key in ((K1, "s" * 32), ("k1:short", ""), ("no-secret", ""), (f"{K1},{K1}", "")):
        with pytest.raises(ConfigError):
            AuditKeys.parse(keys, key)


# The public command, as an operator runs it.


def baton(prefix: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BATON_"))}
    base.update(BATON_KEY_PREFIX=prefix, BATON_LOG_JSON="false", **env)
    base.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", *args],
        env=base,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_baton_audit_verify_reports_a_cut_chain_a_rewrite_and_a_rotation(
    keyed: Harness, redis_url: str
) -> None:
    prefix, run, key = keyed.store.keys.prefix, asyncio.to_thread, keyed.store.keys.audit("T1")
    env = {"REDIS_URL": redis_url, "BATON_ENV": "development", "BATON_AUDIT_KEYS": f"{K2},{K1}"}
    ok = await run(baton, prefix, "audit", "verify", **{**env, "BATON_AUDIT_KEYS": K1})
    head = (await verify(keyed.store, "T1")).head
    assert ok.returncode == 0, ok.stderr
    assert f"T1: {head.split(':')[0]} events, intact, sealed with key k1 (head {head})" in ok.stdout

    rotated = await run(baton, prefix, "audit", "rotate", **env)
    assert rotated.returncode == 0 and "Moved to key k2: T1" in rotated.stdout, rotated.stderr
    chain = await entries(keyed.store)
    assert json.loads(chain[-1]["body"])["action"] == ROTATED
    assert json.loads(chain[-1]["seal"])["kid"] == "k2"
    posted = f"{len(chain)}:{head_fingerprint(b'2' * 40, 'T1', len(chain), chain[-1]['hash'])}"

    # Cut the rotation and the event before it, and point the head at what is left.
    await keyed.store.redis.ltrim(key, 0, len(chain) - 3)
    await keyed.store.redis.hset(
        key + ":head", mapping={"seq": len(chain) - 2, "hash": chain[-3]["hash"], "kid": "k1"}
    )
    alone = await run(baton, prefix, "audit", "verify", **env)
    assert alone.returncode == 0 and "intact, sealed with key k1" in alone.stdout
    against = await run(
        baton, prefix, "audit", "verify", "--workspace", "T1", "--head", posted, **env
    )
    assert against.returncode == 1
    expected = f"BROKEN: the chain ends at event {len(chain) - 2}, before the posted head {posted}"
    assert expected in against.stdout

    chain = chain[:-2]
    tamper(chain, 3)
    await rewrite(keyed.store, chain, unsealed, start=3)
    broken = await run(baton, prefix, "audit", "verify", **env)
    assert broken.returncode == 1
    assert "BROKEN: event 4 is not sealed with a key although the events before it are" in (
        broken.stdout
    )


async def test_baton_audit_verify_without_a_key_says_the_chain_is_unkeyed(
    harness: Harness, redis_url: str
) -> None:
    await harness.state("olivia", CHURN)
    done = await asyncio.to_thread(
        baton, harness.store.keys.prefix, "audit", "verify",
        REDIS_URL=redis_url, BATON_ENV="development",
    )  # fmt: skip
    assert done.returncode == 0
    assert "intact but UNKEYED" in done.stdout and "set BATON_AUDIT_KEY" in done.stdout
    assert "audit trail UNKEYED" in done.stderr  # the log's warning at start


def test_production_serving_a_chat_platform_refuses_to_start_without_a_key() -> None:
    done = baton(
        "test:nokey", "audit", "verify", SLACK_SIGNING_SECRET="s" * 32, SLACK_BOT_TOKEN="xoxb-1"
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "BATON_AUDIT_KEY is not set" in lines[0]


def test_the_key_is_scrubbed_like_every_secret() -> None:
    settings = Settings(audit_keys=f"{K2},{K1}")
    assert {"1" * 40, "2" * 40} <= set(settings.secrets())
