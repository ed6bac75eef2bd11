"""Verifying and exporting the hash-chained audit trail.

Each entry is `{seq, prev, hash, body}` with `hash = sha1(prev + "\\n" + seq + "\\n" + body)`
(computed inside Redis by the commit script), and the chain's head remembers the last
`seq` and `hash`. A changed event breaks its own hash; a removed one leaves a gap in
`seq` (or a head that points past the end); an inserted one breaks the `prev` link.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.store.redis_store import RedisStore


@dataclass(frozen=True)
class Verdict:
    """The result of checking one workspace's chain."""

    workspace: str
    events: int
    problem: str = ""
    """Empty when the chain is intact; otherwise names the first bad event."""

    @property
    def intact(self) -> bool:
        return not self.problem


def entry_hash(prev: str, seq: int, body: str) -> str:
    return hashlib.sha1(f"{prev}\n{seq}\n{body}".encode()).hexdigest()


def check_chain(entries: Sequence[dict[str, object]], head_seq: int, head_hash: str) -> str:
    """The first problem in `entries`, or '' when the chain is intact."""
    prev, expected_seq = "", 1
    for position, entry in enumerate(entries, start=1):
        seq = int(str(entry["seq"]))
        if seq < expected_seq or (entry["prev"] != prev and seq == expected_seq):
            return f"event at position {position} (seq {seq}) was inserted or reordered"
        if seq > expected_seq:
            return f"event {expected_seq} was removed (next is {seq})"
        if entry_hash(prev, seq, str(entry["body"])) != entry["hash"]:
            return f"event {seq} was changed"
        prev, expected_seq = str(entry["hash"]), seq + 1
    if head_seq != expected_seq - 1 or (head_seq and head_hash != prev):
        return f"event {expected_seq} was removed (the chain's head is at {head_seq})"
    return ""


async def verify(store: RedisStore, workspace: str) -> Verdict:
    chain_key = store.keys.audit(workspace)
    raws = await store.redis.lrange(chain_key, 0, -1)
    head = await store.redis.hgetall(chain_key + ":head")
    head_seq = int(head.get(b"seq", 0))
    raw_hash = head.get(b"hash", b"")
    head_hash = raw_hash.decode() if isinstance(raw_hash, bytes) else str(raw_hash)
    try:
        entries = [json.loads(raw) for raw in raws]
    except ValueError:
        return Verdict(workspace, len(raws), "an event is not valid JSON: it was changed")
    return Verdict(workspace, len(entries), check_chain(entries, head_seq, head_hash))


async def export(store: RedisStore, workspace: str, fmt: str) -> str:
    """The full trail as CSV or JSON lines, oldest first."""
    events = await store.audit_chain(workspace)
    if fmt == "json":
        return "".join(event.model_dump_json() + "\n" for event in events)
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [
        "seq",
        "at",
        "workspace",
        "actor",
        "action",
        "subject",
        "outcome_id",
        "before",
        "after",
        "detail",
        "prev",
        "hash",
    ]
    writer.writerow(columns)
    for event in events:
        row = event.model_dump(mode="json")
        row["detail"] = json.dumps(row["detail"], sort_keys=True)
        writer.writerow([row[c] if row[c] is not None else "" for c in columns])
    return out.getvalue()
