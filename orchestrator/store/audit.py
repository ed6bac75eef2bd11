"""Verifying and exporting the audit trail, one chain per workspace.

Each entry is `{seq, prev, hash, body}`, plus `seal` when a key sealed it
(`orchestrator.store.audit_seal`): the key's id, a nonce, the head the event vouches for
(`v`: a seq and its link hash) and an HMAC-SHA256 of all that with the body, under the key.
`hash` links the entry to the one before: `sha1(prev + "\\n" + seq + "\\n" + body
[+ "\\n" + seal])`.

A changed event breaks its seal (or, unsealed, its link); a removed one leaves a gap in
`seq` (or a head that points past the end); an inserted one breaks the `prev` link; a chain
recomputed after any of these breaks the heads later events vouch for; a replayed event
repeats a nonce. Unsealed events can be recomputed by anyone who can write Redis: they are
protected only once sealed events vouch for them. The end of a chain cut short is caught
against a head posted outside Redis (the weekly digest posts one: `seq:fingerprint`).
"""

from __future__ import annotations

import csv
import hmac
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.store.audit_seal import (
    FINGERPRINT,
    ROTATED,
    AuditKeys,
    Head,
    event_mac,
    head_fingerprint,
    link_hash,
)
from orchestrator.store.redis_store import RedisStore, parse_audit_entry


def entry_hash(prev: str, seq: int, body: str) -> str:
    """An unsealed entry's hash (what anyone who can write Redis can compute)."""
    return link_hash(prev, seq, body)


@dataclass(frozen=True)
class PostedHead:
    """A chain's head as it was posted outside Redis: event `seq` and its fingerprint."""

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
    """Events no key protects: unsealed, and no sealed event vouches for them."""
    head: str = ""
    """The chain's last event as a posted head names it (`seq:fingerprint`)."""
    archived: int = 0
    """Of `events`, those read from the history store (the chain's oldest part)."""

    @property
    def intact(self) -> bool:
        return not self.problem


@dataclass
class _Walk:
    """How far a check along a chain has got."""

    keys: AuditKeys
    workspace: str
    links: list[str] = field(default_factory=lambda: [""])
    """The link hash of each good entry by seq (0: before the first)."""
    kid: str = ""
    nonces: dict[str, int] = field(default_factory=dict)
    vouched: int = 0
    """The last event some sealed event vouches for."""
    unsealed: int = 0
    """The last event without a seal."""

    @property
    def seq(self) -> int:
        return len(self.links) - 1


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
    if head.seq != walk.seq or (head.seq and head.hash != walk.links[-1]):
        return f"event {walk.seq + 1} was removed (the chain's head is at {head.seq})", walk
    if keys.ring and walk.unsealed > walk.vouched:
        return (
            f"events {walk.vouched + 1}-{walk.unsealed} are not sealed with a key and no sealed "
            "event vouches for them (written before BATON_AUDIT_KEYS was set, or rewritten "
            "since); `baton audit rotate` seals genuine ones"
        ), walk
    return "", walk


def _check_entry(walk: _Walk, position: int, entry: dict[str, Any]) -> str:
    seq, expected, prev = int(entry["seq"]), walk.seq + 1, walk.links[-1]
    if seq < expected or (entry["prev"] != prev and seq == expected):
        return f"event at position {position} (seq {seq}) was inserted or reordered"
    if seq > expected:
        return f"event {expected} was removed (next is {seq})"
    body, seal = str(entry["body"]), str(entry.get("seal", ""))
    if link_hash(prev, seq, body, seal) != entry["hash"]:
        return f"event {seq} was changed"
    if seal:
        problem = _check_seal(walk, seq, body, seal)
        if problem:
            return problem
    elif walk.kid:
        return f"event {seq} is not sealed with a key although the events before it are"
    else:
        walk.unsealed = seq
    walk.links.append(str(entry["hash"]))
    return ""


def _check_seal(walk: _Walk, seq: int, body: str, text: str) -> str:
    try:
        seal = json.loads(text)
        kid, nonce, mac = str(seal["kid"]), str(seal["n"]), str(seal["mac"])
        vouched = (int(seal["v"][0]), str(seal["v"][1]))
    except (ValueError, KeyError, TypeError, IndexError):
        return f"event {seq} was changed"
    problem = _key_problem(walk, seq, kid, body)
    if problem:
        return problem
    secret = walk.keys.secret(kid) or b""
    if not hmac.compare_digest(event_mac(secret, walk.workspace, kid, nonce, vouched, body), mac):
        return f"event {seq} was changed"
    if nonce in walk.nonces:
        return f"event {seq} repeats event {walk.nonces[nonce]}"
    if not (0 <= vouched[0] < seq and walk.links[vouched[0]] == vouched[1]):
        return (
            f"event {seq} vouches for another chain up to event {vouched[0]}: events up to "
            "there were removed, inserted or reordered"
        )
    walk.nonces[nonce], walk.kid = seq, kid
    walk.vouched = max(walk.vouched, vouched[0])
    return ""


def _key_problem(walk: _Walk, seq: int, kid: str, body: str) -> str:
    """Why `kid` may not seal event `seq` here ('' when it may): the key must be listed,
    and a chain changes keys only through a rotation event to a newer key."""
    if walk.keys.secret(kid) is None:
        return f"event {seq} is sealed with key {kid}, which BATON_AUDIT_KEYS does not list"
    if kid == walk.kid or seq == 1:
        return ""
    if not (_rotates(body, kid) and walk.keys.newer(kid, walk.kid)):
        return f"event {seq} is sealed with key {kid} without a rotation from {walk.kid or 'none'}"
    return ""


def _rotates(body: str, new: str) -> bool:
    try:
        event = json.loads(body)
    except ValueError:
        return False
    return bool(event.get("action") == ROTATED and event.get("detail") == {"to": new})


def check_posted(walk: _Walk, posted: Sequence[PostedHead]) -> str:
    """The first posted head that the (otherwise intact) chain contradicts ('' for none)."""
    for head in posted:
        if head.seq > walk.seq:
            return f"the chain ends at event {walk.seq}, before the posted head {head}"
        link = walk.links[head.seq]
        prints = [link[:FINGERPRINT]] + [
            head_fingerprint(secret, walk.workspace, head.seq, link) for _, secret in walk.keys.ring
        ]
        if not any(p.startswith(head.fingerprint) for p in prints):
            return f"event {head.seq} does not match the posted head {head}: it was rewritten"
    return ""


async def verify(store: RedisStore, workspace: str, posted: Sequence[PostedHead] = ()) -> Verdict:
    """Check a workspace's chain with the store's keys, and against heads posted earlier:
    end to end, the part moved to the history store first, then the part in Redis."""
    base = await store.audit_base(workspace)
    raws = await store.audit_entries(workspace)
    head = await store.audit_head(store.keys.audit(workspace))
    try:
        entries = [json.loads(raw) for raw in raws]
    except ValueError:
        return Verdict(workspace, len(raws), "an event is not valid JSON: it was changed")
    archived = sum(1 for entry in entries if int(entry.get("seq", 0)) <= base.seq)
    problem, walk = check_chain(entries, head, store.seal.keys, workspace)
    fingerprint = store.seal.fingerprint(workspace, walk.seq, walk.links[-1])
    return Verdict(
        workspace,
        len(entries),
        problem or check_base(walk, base) or check_posted(walk, posted),
        kid=walk.kid,
        unkeyed=max(0, walk.unsealed - walk.vouched),
        head=f"{walk.seq}:{fingerprint}" if walk.seq else "0",
        archived=archived,
    )


def check_base(walk: _Walk, base: Head) -> str:
    """Whether the chain's Redis part links to the part in the history store: the event
    Redis's part starts after must be there, with the hash Redis recorded for it."""
    if not base.seq:
        return ""
    if walk.seq < base.seq:
        return (
            f"the history store's part of the chain ends at event {walk.seq}, but Redis's "
            f"part continues from event {base.seq + 1}: events were removed from it"
        )
    if walk.links[base.seq] != base.hash:
        return f"event {base.seq} in the history store is not the one Redis's part links to"
    return ""


async def rotate(store: RedisStore, at: str) -> list[str]:
    """Move every workspace's chain to the current key now; the workspaces moved."""
    return [ws for ws in await store.workspaces() if await store.rotate_audit_key(ws, at)]


async def export(store: RedisStore, workspace: str, fmt: str) -> str:
    """The full trail as CSV or JSON lines, oldest first, each event with its seal."""
    raws = await store.audit_entries(workspace)
    events = [(parse_audit_entry(raw), str(json.loads(raw).get("seal", ""))) for raw in raws]
    if fmt == "json":
        return "".join(
            json.dumps({**event.model_dump(mode="json"), "seal": seal}, separators=(",", ":"))
            + "\n"
            for event, seal in events
        )
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
        "seal",
    ]
    writer.writerow(columns)
    for event, seal in events:
        row = {**event.model_dump(mode="json"), "seal": seal}
        row["detail"] = json.dumps(row["detail"], sort_keys=True)
        writer.writerow([row[c] if row[c] is not None else "" for c in columns])
    return out.getvalue()
