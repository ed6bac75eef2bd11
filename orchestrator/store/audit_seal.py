"""Sealing audit events with a key that Redis never sees.

Redis has no HMAC and must never hold the key, and only the commit script knows where an
event lands in its chain (its `seq` and the hash before it). So the work is split:

- the process seals each event before the commit: an HMAC-SHA256, under the current key,
  of the workspace, the key's id, a nonce, the event's body, and the chain's head as this
  process last saw it (a `seq` and its link hash: the event vouches for the whole chain up
  to there);
- the script links it, atomically with the change it records: `seq`, `prev`, and a link
  hash (SHA-1) over `prev`, `seq`, the body and the seal.

Without the key nobody can change an event (its seal breaks), invent one, or replay one
(its nonce repeats); events removed, inserted or reordered are caught by every later event
that vouches for a head past them. Only the chain's last few events, which nothing vouches
for yet, can be cut off unnoticed: a head posted outside Redis (the weekly digest) catches
that. No commit ever waits for, or retries against, another process's.

Without a key the script links events unsealed (`sha1(prev, seq, body)`), as chains were
before keys existed. A chain changes keys through an `audit.key_rotated` event sealed with
the new key, which the script appends when the chain's last event has another key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from orchestrator.errors import ConfigError

ROTATED = "audit.key_rotated"
"""The action of the event that moves a chain to another key."""

KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
MIN_SECRET = 32
"""Characters a secret needs at least (`openssl rand -hex 32` gives 64)."""
FINGERPRINT = 16
"""Hex digits of a posted head's fingerprint."""


def link_hash(prev: str, seq: int, body: str, seal: str = "") -> str:
    """An entry's link hash, as the commit script computes it (unkeyed: anyone can)."""
    text = f"{prev}\n{seq}\n{body}" + (f"\n{seal}" if seal else "")
    return hashlib.sha1(text.encode()).hexdigest()


def event_mac(
    secret: bytes, workspace: str, kid: str, nonce: str, vouched: tuple[int, str], body: str
) -> str:
    """An event's seal: what only the key `kid` (`secret`) can produce."""
    message = f"{workspace}\n{kid}\n{nonce}\n{vouched[0]}\n{vouched[1]}\n{body}".encode()
    return hmac.digest(secret, message, "sha256").hex()


def head_fingerprint(secret: bytes, workspace: str, seq: int, link: str) -> str:
    """The fingerprint of a chain's head at `seq` (link hash `link`) under a key."""
    message = f"{workspace}\nhead\n{seq}\n{link}".encode()
    return hmac.digest(secret, message, "sha256").hex()[:FINGERPRINT]


@dataclass(frozen=True)
class AuditKeys:
    """The keys that seal audit chains, newest first: the first seals new events, every
    one of them verifies the events it sealed."""

    ring: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def parse(cls, keys: str = "", key: str = "") -> AuditKeys:
        """`BATON_AUDIT_KEYS` ("k2:secret,k1:secret", newest first) or `BATON_AUDIT_KEY`
        (one secret, whose id is `k1`); a `ConfigError` names what is wrong."""
        if keys and key:
            raise ConfigError("set BATON_AUDIT_KEYS or BATON_AUDIT_KEY, not both")
        if key:
            return cls((_entry("k1", key, "BATON_AUDIT_KEY"),))
        ring: list[tuple[str, bytes]] = []
        for item in (part.strip() for part in keys.split(",")):
            if not item:
                continue
            kid, _, secret = item.partition(":")
            if not KEY_ID.fullmatch(kid) or not secret:
                raise ConfigError(
                    "BATON_AUDIT_KEYS: each entry is id:secret (an id of letters, digits, "
                    "'-', '_' or '.'), newest first, separated by commas"
                )
            if any(kid == known for known, _ in ring):
                raise ConfigError(f"BATON_AUDIT_KEYS: the key id {kid} is listed twice")
            ring.append(_entry(kid, secret, f"BATON_AUDIT_KEYS ({kid})"))
        return cls(tuple(ring))

    @property
    def current(self) -> str:
        """The id of the key that seals new events ('' without a key)."""
        return self.ring[0][0] if self.ring else ""

    def secret(self, kid: str) -> bytes | None:
        return next((secret for known, secret in self.ring if known == kid), None)

    def older(self, kid: str) -> list[str]:
        """The keys listed after `kid`, and none ('')."""
        ids = [known for known, _ in self.ring]
        return [*ids[ids.index(kid) + 1 :], ""] if kid in ids else [""]

    def newer(self, kid: str, than: str) -> bool:
        """Whether `kid` is listed before `than` (any listed key is newer than none)."""
        ids = [known for known, _ in self.ring]
        return kid in ids and (than not in ids or ids.index(kid) < ids.index(than))


def _entry(kid: str, secret: str, name: str) -> tuple[str, bytes]:
    if len(secret) < MIN_SECRET:
        raise ConfigError(
            f"{name}: a secret needs at least {MIN_SECRET} characters "
            "(for example the output of `openssl rand -hex 32`)"
        )
    return kid, secret.encode()


@dataclass(frozen=True)
class Head:
    """A chain's last entry: its number, its link hash, and the key that sealed it."""

    seq: int
    hash: str
    kid: str


@dataclass
class Sealed:
    """A commit's audit events, sealed, as the commit script takes them."""

    heads: list[dict[str, Any]] = field(default_factory=list)
    """Per chain: the key its events are sealed with and, when the chain may have another
    key until now, the rotation event to append first (`rotation`)."""
    events: list[dict[str, Any]] = field(default_factory=list)


class Seal:
    """Seals one process's audit events and remembers the heads of the chains it wrote."""

    def __init__(self, keys: AuditKeys, workspace_of: Callable[[str], str]) -> None:
        self.keys = keys
        self._workspace_of = workspace_of
        """The workspace whose chain is at a key."""
        self._heads: dict[str, Head] = {}
        """Per chain, the latest head this process saw (what its next events vouch for)."""
        self._kids: dict[str, str] = {}
        """Per chain, the key its last event was sealed with, as far as this process knows."""

    @property
    def keyed(self) -> bool:
        return bool(self.keys.ring)

    def workspace(self, chain: str) -> str:
        return self._workspace_of(chain)

    def seal(self, events: list[dict[str, str]]) -> Sealed:
        """`events` sealed, each chain's first preceded by a rotation when needed. An event
        with `rotate` set only asks for the rotation (`baton audit rotate`)."""
        sealed, nonce = Sealed(), os.urandom(12).hex()  # never repeats by chance
        sealers: dict[str, _Sealer] = {}
        for number, event in enumerate(events):
            chain = event["chain"]
            sealer = sealers.get(chain)
            if sealer is None:
                sealer = sealers[chain] = self._sealer(chain)
                sealed.heads.append(self._head_spec(sealer, event, nonce))
            if not event.get("rotate"):
                seal = sealer.seal(f"{nonce}.{number}", event["body"])
                sealed.events.append({**event, "seal": seal, "kid": sealer.kid})
        return sealed

    def _sealer(self, chain: str) -> _Sealer:
        """What seals `chain`'s events: the current key and the head this process last saw."""
        kid = self.keys.current
        head = self._heads.get(chain, Head(0, "", ""))
        secret = self.keys.secret(kid) or b""
        return _Sealer(chain, self.workspace(chain), kid, secret, (head.seq, head.hash))

    def _head_spec(self, sealer: _Sealer, first: dict[str, str], nonce: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"chain": sealer.chain, "kid": sealer.kid}
        if self._kids.get(sealer.chain) != sealer.kid:  # another key, as far as it knows
            body = rotation_body(first["body"], sealer.kid)
            spec["rotation"] = {"body": body, "seal": sealer.seal(f"{nonce}.r", body)}
            spec["older"] = self.keys.older(sealer.kid)
        return spec

    def learn(self, reply: str) -> None:
        """The heads a commit script answered with (`chain\\nseq\\nhash\\nkid`, repeated)."""
        parts = reply.split("\n")
        for at in range(0, len(parts) - 3, 4):
            chain, seq, hash_, kid = parts[at : at + 4]
            known = self._heads.get(chain)
            if known is None or int(seq) > known.seq:
                self._heads[chain] = Head(int(seq), hash_, kid)
                self._kids[chain] = kid

    def unknown(self, events: list[dict[str, str]]) -> list[str]:
        """The chains of `events` whose head this process has not seen yet."""
        return list(dict.fromkeys(e["chain"] for e in events if e["chain"] not in self._heads))

    def saw(self, chain: str, head: Head) -> None:
        """`head` was read from the chain (its first events here vouch for it)."""
        self.learn(f"{chain}\n{head.seq}\n{head.hash}\n{head.kid}")

    def moved(self, chain: str, kid: str) -> None:
        """Another process sealed `chain`'s last event with `kid`."""
        self._kids[chain] = kid

    def fingerprint(self, workspace: str, seq: int, link: str) -> str:
        """A head's fingerprint: keyed with the current key, else the link hash's start."""
        secret = self.keys.secret(self.keys.current)
        if secret is None:
            return link[:FINGERPRINT]
        return head_fingerprint(secret, workspace, seq, link)


@dataclass(frozen=True)
class _Sealer:
    """Seals one commit's events on one chain."""

    chain: str
    workspace: str
    kid: str
    secret: bytes
    vouched: tuple[int, str]

    def seal(self, nonce: str, body: str) -> str:
        mac = event_mac(self.secret, self.workspace, self.kid, nonce, self.vouched, body)
        return orjson.dumps({"kid": self.kid, "n": nonce, "v": self.vouched, "mac": mac}).decode()


def unknown_key(workspace: str, kid: str) -> str:
    """Why a process cannot write a chain sealed with a key it does not hold."""
    return (
        f"{workspace}'s chain is sealed with key {kid}, which this process does not hold: "
        f"restart it with BATON_AUDIT_KEYS listing {kid}"
    )


def rotation_body(after: str, new: str) -> str:
    """The body of the event that moves a chain to key `new`, at the time and in the
    workspace of the event body `after` (the first one sealed with `new`)."""
    event = orjson.loads(after)
    return orjson.dumps(
        {
            "at": event["at"],
            "workspace": event["workspace"],
            "actor": "system",
            "action": ROTATED,
            "subject": f"audit:{event['workspace']}",
            "outcome_id": None,
            "before": None,
            "after": new,
            "detail": {"to": new},
        }
    ).decode()


def rotation_request(workspace: str, at: str) -> str:
    """The body a requested rotation takes its time and workspace from."""
    return orjson.dumps({"at": at, "workspace": workspace}).decode()
