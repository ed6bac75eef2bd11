"""Sealing the audit chain with a key that Redis never sees.

Each entry's `hash` is an HMAC-SHA256, under a secret from the environment, of the chain's
workspace, the key's id, the previous entry's hash, the entry's `seq` and its body. Someone
who can write Redis but does not hold the key can neither change an event nor recompute the
hashes after it.

Redis has no HMAC, and the key must not travel to it, so the process seals: it computes the
new entries from the chain's head as it last saw it, and the commit script appends them only
if the head is still that one (otherwise it answers with the head it found, and the process
seals again). A process that is the only one writing a chain seals in the commit's one
round trip; the head it knows is kept between commits.

Without a key the script hashes the entries itself with unkeyed SHA-1, as chains were before
keys existed. A chain that changes keys records it: the first entry sealed with a new key
is an `audit.key_rotated` event, sealed with the new key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
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
"""Hex digits of the head's hash that a posted head carries."""


def unkeyed_hash(prev: str, seq: int, body: str) -> str:
    """An entry's hash when no key sealed it (SHA-1, as the commit script computes it)."""
    return hashlib.sha1(f"{prev}\n{seq}\n{body}".encode()).hexdigest()


def keyed_hash(secret: bytes, workspace: str, kid: str, prev: str, seq: int, body: str) -> str:
    """An entry's hash sealed with `secret` (the key `kid`)."""
    message = f"{workspace}\n{kid}\n{prev}\n{seq}\n{body}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditKeys:
    """The keys that seal audit chains, newest first: the first seals new entries, every
    one of them verifies the entries it sealed."""

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
        """The id of the key that seals new entries ('' without a key)."""
        return self.ring[0][0] if self.ring else ""

    def secret(self, kid: str) -> bytes | None:
        return next((secret for known, secret in self.ring if known == kid), None)

    def newer(self, kid: str, than: str) -> bool:
        """Whether `kid` is listed before `than` (any key is newer than none)."""
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
    """The last entry of a chain: its number, its hash, and the key that sealed it."""

    seq: int
    hash: str
    kid: str

    @classmethod
    def parse(cls, text: str) -> Head:
        """The head as the commit script reports it: `seq\\nhash\\nkid`."""
        seq, hash_, kid = text.split("\n")
        return cls(int(seq or 0), hash_, kid)


@dataclass
class Sealed:
    """A commit's audit entries, sealed, as the commit script takes them."""

    heads: list[dict[str, Any]] = field(default_factory=list)
    """Per chain, the head the entries follow; the script refuses if it moved."""
    events: list[dict[str, Any]] = field(default_factory=list)
    tails: dict[str, Head] = field(default_factory=dict)
    """Per chain, the head once the entries are appended."""


class Seal:
    """Seals one process's audit entries and remembers the heads of the chains it wrote."""

    def __init__(self, keys: AuditKeys, chain_prefix: str) -> None:
        self.keys = keys
        self._chain_prefix = chain_prefix
        """A chain's key is this prefix followed by its workspace."""
        self._heads: dict[str, Head] = {}

    @property
    def keyed(self) -> bool:
        return bool(self.keys.ring)

    def workspace(self, chain: str) -> str:
        return chain.removeprefix(self._chain_prefix)

    def unknown(self, events: list[dict[str, str]]) -> list[str]:
        """The chains among `events` whose head this process has not seen yet."""
        return list(dict.fromkeys(e["chain"] for e in events if e["chain"] not in self._heads))

    def learn(self, chain: str, head: Head) -> None:
        """Remember `head` unless a later one is already known."""
        known = self._heads.get(chain)
        if known is None or head.seq > known.seq:
            self._heads[chain] = head

    def sealed(self, sealed: Sealed) -> None:
        """The script appended `sealed`: its tails are the heads now."""
        for chain, head in sealed.tails.items():
            self.learn(chain, head)

    def seal(self, events: list[dict[str, str]]) -> Sealed:
        """`events` as sealed entries after the known heads (which `unknown` must not
        list), each chain moved to the current key first if another one sealed it."""
        kid = self.keys.current
        secret = self.keys.secret(kid) or b""
        sealed = Sealed()
        for event in events:
            chain = event["chain"]
            head = sealed.tails.get(chain)
            if head is None:
                head = self._heads[chain]
                sealed.heads.append({"chain": chain, "seq": head.seq, "hash": head.hash})
                if head.seq and head.kid != kid:
                    rotation = rotation_body(event["body"], head.kid, kid)
                    head = self._append(sealed, chain, "", rotation, head, secret)
            if event.get("rotate"):
                sealed.tails[chain] = head
                continue  # asked only to move the chain to the current key
            sealed.tails[chain] = self._append(
                sealed, chain, event["index"], event["body"], head, secret
            )
        return sealed

    def _append(
        self, sealed: Sealed, chain: str, index: str, body: str, head: Head, secret: bytes
    ) -> Head:
        kid, seq = self.keys.current, head.seq + 1
        hash_ = keyed_hash(secret, self.workspace(chain), kid, head.hash, seq, body)
        entry = {"seq": seq, "prev": head.hash, "hash": hash_, "kid": kid, "body": body}
        sealed.events.append(
            {
                "chain": chain,
                "index": index,
                "entry": orjson.dumps(entry).decode(),
                "seq": seq,
                "hash": hash_,
                "kid": kid,
            }
        )
        sealed.tails[chain] = Head(seq, hash_, kid)
        return sealed.tails[chain]


def rotation_body(after: str, old: str, new: str) -> str:
    """The body of the event that moves a chain from key `old` to `new`, at the time and in
    the workspace of the event body `after` (the first one sealed with `new`)."""
    event = orjson.loads(after)
    return orjson.dumps(
        {
            "at": event["at"],
            "workspace": event["workspace"],
            "actor": "system",
            "action": ROTATED,
            "subject": f"audit:{event['workspace']}",
            "outcome_id": None,
            "before": old or None,
            "after": new,
            "detail": {"from": old, "to": new},
        }
    ).decode()


def rotation_request(workspace: str, at: str) -> str:
    """The body the sealer reads the time and workspace of a requested rotation from."""
    return orjson.dumps({"at": at, "workspace": workspace}).decode()
