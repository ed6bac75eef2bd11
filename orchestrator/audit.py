"""Verifying and exporting the audit trail, one hash chain per workspace.

Each entry is `{seq, prev, hash, kid, body}`. With a key (`kid`), `hash` is an HMAC-SHA256
of the workspace, the key id, `prev`, `seq` and `body` (`orchestrator.store.audit_seal`):
nobody without the key can change an event or recompute the hashes after it. Entries
written without a key (no `kid`) carry `sha1(prev + "\\n" + seq + "\\n" + body)`, which
anyone can recompute: they are protected only once a keyed entry follows them.

A changed event breaks its own hash; a removed one leaves a gap in `seq` (or a head that
points past the end); an inserted one breaks the `prev` link; a chain cut short and a chain
rebuilt from scratch are caught against a head posted outside Redis (the weekly digest
posts one: `seq:fingerprint`, the fingerprint being the start of that entry's hash).
"""

from __future__ import annotations

import csv
import hmac
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.store.audit_seal import (
    FINGERPRINT,
    ROTATED,
    AuditKeys,
    Head,
    keyed_hash,
    unkeyed_hash,
)
from orchestrator.store.redis_store import RedisStore

entry_hash = unkeyed_hash
"""An unkeyed entry's hash (what anyone who can write Redis can compute)."""


@dataclass(frozen=True)
class PostedHead:
    """A chain's head as it was posted outside Redis: event `seq` and the start of its hash."""

    seq: int
    fingerprint: str

    @classmethod
    def parse(cls, text: str) -> PostedHead:
        """`SEQ:FINGERPRINT`, as the digest posts it; a `ValueError` says what is wrong."""
        seq, _, fingerprint = text.strip().partition(":")
        fingerprint = fingerprint.lower()
        if not seq.isdigit() or int(seq) < 1 or len(fingerprint) < 8 or not _hex(fingerprint):
            raise ValueError(f"{text!r} is not a posted head (SEQ:FINGERPRINT, e.g. 120:3f9a0c1d)")
        return cls(int(seq), fingerprint)

    def __str__(self) -> str:
        return f"{self.seq}:{self.fingerprint}"


def _hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def posted_head(seq: int, hash_: str) -> str:
    """The head to post for a chain whose last entry is `seq` with hash `hash_`."""
    return f"{seq}:{hash_[:FINGERPRINT]}" if seq else "0"


@dataclass(frozen=True)
class Verdict:
    """The result of checking one workspace's chain."""

    workspace: str
    events: int
    problem: str = ""
    """Empty when the chain is intact; otherwise names the first bad event."""
    kid: str = ""
    """The key that sealed the last event ('' when none did)."""
    unkeyed: int = 0
    """Events no key protects: the chain has no keyed event after them."""
    head: str = ""
    """The chain's last event as a posted head would name it (`seq:fingerprint`)."""

    @property
    def intact(self) -> bool:
        return not self.problem


@dataclass
class _Walk:
    """How far a check along a chain has got: the last good entry and its key."""

    keys: AuditKeys
    workspace: str
    seq: int = 0
    prev: str = ""
    kid: str = ""
    keyed: bool = False
    """Whether a keyed entry was seen (it protects every entry before it)."""


def check_chain(
    entries: Sequence[dict[str, Any]],
    head: Head,
    keys: AuditKeys = AuditKeys(),  # noqa: B008 - frozen, shared safely
    workspace: str = "",
) -> tuple[str, _Walk]:
    """The first problem in `entries` ('' when the chain is intact) and how far it got."""
    walk = _Walk(keys, workspace)
    for position, entry in enumerate(entries, start=1):
        problem = _check_entry(walk, position, entry)
        if problem:
            return problem, walk
    if head.seq != walk.seq or (head.seq and head.hash != walk.prev):
        return f"event {walk.seq + 1} was removed (the chain's head is at {head.seq})", walk
    if keys.ring and walk.seq and not walk.keyed:
        return (
            f"events 1-{walk.seq} are not sealed with a key (written before BATON_AUDIT_KEYS "
            "was set, or rewritten since); `baton audit rotate` seals genuine ones"
        ), walk
    return "", walk


def _check_entry(walk: _Walk, position: int, entry: dict[str, Any]) -> str:
    seq, expected = int(entry["seq"]), walk.seq + 1
    if seq < expected or (entry["prev"] != walk.prev and seq == expected):
        return f"event at position {position} (seq {seq}) was inserted or reordered"
    if seq > expected:
        return f"event {expected} was removed (next is {seq})"
    kid, body = str(entry.get("kid", "")), str(entry["body"])
    problem = _key_problem(walk, seq, kid, body)
    if problem:
        return problem
    secret = walk.keys.secret(kid) or b""
    computed = (
        keyed_hash(secret, walk.workspace, kid, walk.prev, seq, body)
        if kid
        else unkeyed_hash(walk.prev, seq, body)
    )
    if not hmac.compare_digest(computed, str(entry["hash"])):
        return f"event {seq} was changed"
    walk.seq, walk.prev, walk.kid = seq, str(entry["hash"]), kid
    walk.keyed = walk.keyed or bool(kid)
    return ""


def _key_problem(walk: _Walk, seq: int, kid: str, body: str) -> str:
    """Why `kid` may not seal event `seq` here ('' when it may): the key must be listed,
    and a chain changes keys only through a rotation event to a newer key."""
    if kid and walk.keys.secret(kid) is None:
        return f"event {seq} is sealed with key {kid}, which BATON_AUDIT_KEYS does not list"
    if kid == walk.kid or seq == 1:
        return ""
    if not kid:
        return f"event {seq} is not sealed with a key although the events before it are"
    if not (_rotates(body, walk.kid, kid) and walk.keys.newer(kid, walk.kid)):
        return f"event {seq} is sealed with key {kid} without a rotation from {walk.kid or 'none'}"
    return ""


def _rotates(body: str, old: str, new: str) -> bool:
    try:
        event = json.loads(body)
    except ValueError:
        return False
    return bool(event.get("action") == ROTATED and event.get("detail") == {"from": old, "to": new})


def check_posted(entries: Sequence[dict[str, Any]], posted: Sequence[PostedHead]) -> str:
    """The first posted head that the (otherwise intact) chain contradicts ('' for none)."""
    for head in posted:
        if head.seq > len(entries):
            return f"the chain ends at event {len(entries)}, before the posted head {head}"
        if not str(entries[head.seq - 1]["hash"]).startswith(head.fingerprint):
            return f"event {head.seq} does not match the posted head {head}: it was rewritten"
    return ""


async def verify(store: RedisStore, workspace: str, posted: Sequence[PostedHead] = ()) -> Verdict:
    """Check a workspace's chain with the store's keys, and against heads posted earlier."""
    raws = await store.audit_entries(workspace)
    head = await store.audit_head(store.keys.audit(workspace))
    try:
        entries = [json.loads(raw) for raw in raws]
    except ValueError:
        return Verdict(workspace, len(raws), "an event is not valid JSON: it was changed")
    problem, walk = check_chain(entries, head, store.seal.keys, workspace)
    return Verdict(
        workspace,
        len(entries),
        problem or check_posted(entries, posted),
        kid=walk.kid,
        unkeyed=0 if walk.keyed else walk.seq,
        head=posted_head(walk.seq, walk.prev),
    )


async def rotate(store: RedisStore, at: str) -> list[str]:
    """Move every workspace's chain to the current key now; the workspaces moved."""
    return [ws for ws in await store.workspaces() if await store.rotate_audit_key(ws, at)]


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
