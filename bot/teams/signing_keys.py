"""The Bot Framework's token signing keys, fetched without blocking and kept.

botbuilder fetches the OpenID metadata and its keys with `requests`, synchronously and
without a timeout, on the event loop: a signer that accepts the connection but never
answers stops the whole server. `SigningKeys` honours the same contract as botbuilder's
metadata object (`await get(key_id)` gives `.public_key` and `.endorsements`) and is put in
botbuilder's cache in its place, so botbuilder's own checks run on keys fetched by aiohttp,
under a timeout, one fetch at a time, kept for a day.

A token whose key cannot be had (the signer silent or down, a key it does not publish) is
`Unverified`, a `PermissionError`, which botbuilder's web adapter answers 401.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger("baton.teams")

FETCH_TIMEOUT_S = 3.0
"""Both requests (metadata, then keys) together; Teams waits 5 s for an invoke's answer."""
MAX_AGE_S = 24 * 3600.0
"""Keys are read again after a day, as botbuilder does."""
RETRY_AFTER_S = 30.0
"""After a failed fetch, tokens are refused at once (or checked with the keys in hand) for
this long, instead of each request waiting for a signer that does not answer."""
UNKNOWN_KEY_REFRESH_S = 300.0
"""A key id not in hand makes a fetch at most this often: keys are published before use."""
MAX_DOCUMENT_BYTES = 512 * 1024


class Unverified(PermissionError):
    """A token that cannot be verified; the web adapter answers 401."""


@dataclass(frozen=True)
class PublicKey:
    """One published key, as botbuilder's token extractor reads it."""

    public_key: Any
    endorsements: list[str]


@dataclass
class SigningKeys:
    """The keys published at one OpenID metadata URL."""

    url: str
    timeout_s: float = FETCH_TIMEOUT_S
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, PublicKey] = field(default_factory=dict)
    _fetched_at: float | None = None
    _failed_at: float | None = None
    _fetch: asyncio.Task[dict[str, PublicKey]] | None = None

    async def get(self, key_id: str | None) -> PublicKey:
        """The key `key_id` names; `Unverified` when it is not published or cannot be had."""
        keys = await self._current()
        if key_id not in keys and self._may_refetch(UNKNOWN_KEY_REFRESH_S):
            keys = await self._refresh()
        if not keys:
            raise Unverified("the Bot Framework's signing keys cannot be read now")
        found = keys.get(key_id or "")
        if found is None:
            raise Unverified(f"the token's signing key {key_id!r} is not published")
        return found

    async def _current(self) -> dict[str, PublicKey]:
        fresh = self._fetched_at is not None and self._age(self._fetched_at) < MAX_AGE_S
        if fresh or not self._may_refetch(0.0):
            return self._keys
        return await self._refresh()

    def _may_refetch(self, since_fetch_s: float) -> bool:
        """Not while a failure is recent; not sooner than `since_fetch_s` after a fetch."""
        if self._failed_at is not None and self._age(self._failed_at) < RETRY_AFTER_S:
            return False
        return self._fetched_at is None or self._age(self._fetched_at) >= since_fetch_s

    def _age(self, at: float) -> float:
        return self.clock() - at

    async def _refresh(self) -> dict[str, PublicKey]:
        """One fetch at a time, shared by every request waiting for it; a request that goes
        away does not cancel it for the others. On failure, the keys in hand (if any). (The
        keys outlive an event loop in tests that run several: a fetch belongs to its loop.)"""
        fetch = self._fetch
        if fetch is None or fetch.done() or fetch.get_loop() is not asyncio.get_running_loop():
            fetch = self._fetch = asyncio.create_task(self._fetch_keys())
            fetch.add_done_callback(_retrieved)
        try:
            return await asyncio.shield(fetch)
        except Unverified:
            if not self._keys:
                raise
            return self._keys

    async def _fetch_keys(self) -> dict[str, PublicKey]:
        try:
            async with asyncio.timeout(self.timeout_s), aiohttp.ClientSession() as session:
                metadata = await _get_json(session, self.url)
                keys = parse_keys(await _get_json(session, str(metadata["jwks_uri"])))
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError) as error:
            self._failed_at = self.clock()
            reason = type(error).__name__ if isinstance(error, TimeoutError) else str(error)
            log.warning("Teams signing keys unavailable from %s: %s", self.url, reason)
            raise Unverified("the Bot Framework's signing keys cannot be read now") from None
        self._keys, self._fetched_at, self._failed_at = keys, self.clock(), None
        return keys


def _retrieved(task: asyncio.Task[dict[str, PublicKey]]) -> None:
    """Marks a failed fetch's error as seen even when every request waiting for it left."""
    if not task.cancelled():
        task.exception()


async def _get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as response:
        response.raise_for_status()
        body = await response.content.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return document


def parse_keys(document: dict[str, Any]) -> dict[str, PublicKey]:
    """The RSA keys of a JWK set, by key id; keys that do not parse are left out."""
    keys: dict[str, PublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        try:
            public = RSAAlgorithm.from_jwk(json.dumps(jwk))
        except (ValueError, TypeError, KeyError) as error:
            log.warning("Teams signing key %r left out: %s", jwk["kid"], error)
            continue
        endorsements = jwk.get("endorsements")
        keys[jwk["kid"]] = PublicKey(public, endorsements if isinstance(endorsements, list) else [])
    return keys
