"""The compare-and-set that keeps concurrent writers of one approval from losing a vote.

An approval that needs several people stays `pending` while votes arrive, so a check on
its status alone would let two votes read the same record and the second overwrite the
first. Every writer of a pending approval (a vote, the decision, an escalation, expiry)
therefore also checks and advances the approval's version, read before the record: of
two writers that read the same version one applies and the other is refused and reads
again. Each vote also writes a per-person key that must be absent, so the same person is
never counted twice, whatever the race.
"""

from __future__ import annotations

from orchestrator.errors import TransitionRefused
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.store.redis_store import RedisStore

VOTED = "this person has decided this approval already"
TRIES = 64
"""Attempts of one writer that keeps losing races: more than the people who may decide."""


def version_key(keys: Keys, approval_id: str) -> str:
    return keys.approval_version(approval_id)


def vote_key(keys: Keys, approval_id: str, person: str) -> str:
    return keys.approval_vote(approval_id, person)


async def version(store: RedisStore, approval_id: str) -> str:
    """The approval's version; read it before the approval, so a write in between is seen
    as a race rather than lost."""
    return await store.approval_version(approval_id)


def advance_in(commit: Commit, keys: Keys, approval_id: str, read: str) -> Commit:
    """Refuse unless the approval's version is still `read`; advance it."""
    key = version_key(keys, approval_id)
    commit.expect(key, read)
    return commit.write(key, str(int(read or "0") + 1), "")


def vote_in(commit: Commit, keys: Keys, approval_id: str, person: str, voter: str) -> Commit:
    """Refuse if `person` has voted on the approval; record that they have (by `voter`)."""
    key = vote_key(keys, approval_id, person)
    commit.absent(key, VOTED)
    return commit.op("SET", key, voter)


def raced(refused: TransitionRefused, keys: Keys, approval_id: str) -> bool:
    """Whether a commit was refused because another writer of the approval came first."""
    return refused.key == version_key(keys, approval_id)


def already_voted(refused: TransitionRefused) -> bool:
    return refused.reason == VOTED
