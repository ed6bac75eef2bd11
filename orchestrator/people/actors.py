"""Who acts, from where, carried by which delivery.

A person is their platform plus their id, inside one tenant (a Slack team, a Teams tenant):
ids travel in buttons and commands and are sequential, so anyone can name another tenant's
record. Every use of a record is checked here against the tenant that owns it.

A request a worker handles as a job carries that job (`Actor.work`), and every commit made
for it is fenced by the job's claim.

A delivery (a click, a statement, a command) is done exactly when the commit that does its
work applies: that commit also marks the delivery done, and refuses if it already was. A
delivery run again (a worker died after the commit) is told so and answers as before,
instead of being dropped as a duplicate before its work was ever committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from orchestrator.errors import NotFound, TransitionRefused
from orchestrator.models import ConversationRef
from orchestrator.runtime.queue import Delivery
from orchestrator.store.commit import Commit
from orchestrator.store.redis_store import RedisStore

log = logging.getLogger("baton.actors")

DELIVERY_TTL_S = 86_400
"""How long a done delivery is remembered: longer than a job can wait to be run again."""
DONE = "delivery already done"
"""The reason of the refusal a commit gets for a delivery that was done before."""


@dataclass(frozen=True)
class Actor:
    """A person acting: their id on a platform, where they act, and the request carrying it."""

    user: str
    where: ConversationRef
    """The conversation the request came from: its platform and workspace are the tenant."""
    delivery: str | None = None
    """The platform's id of the request, when it has one (a redelivery carries the same)."""
    work: Delivery | None = field(default=None, compare=False, repr=False)
    """The job handling the request, when a worker does (Slack's clicks, statements and
    commands): what the request commits is fenced by it, so a worker whose job was taken
    over commits nothing. None when the request is answered as it comes (Teams, the
    console, a form)."""

    @property
    def workspace(self) -> str:
        return self.where.workspace

    @property
    def platform(self) -> str:
        return self.where.platform


def check_home(actor: Actor, home: ConversationRef, kind: str, record_id: str) -> None:
    """Refuse (as not found: nothing is revealed) a record of another tenant than `actor`'s."""
    if (home.platform, home.workspace) != (actor.platform, actor.workspace):
        log.warning(
            "%s:%s in %s named %s %s of another tenant",
            actor.platform,
            actor.user,
            actor.workspace,
            kind,
            record_id,
        )
        raise NotFound(kind, record_id)


async def check_workspace(store: RedisStore, actor: Actor) -> None:
    """Refuse an act on the whole workspace (a statement, the kill switch, the policy) when
    the workspace's outcomes live on another platform: a Teams request naming a Slack team
    id, or the reverse. Every outcome of a workspace lives on one platform, so one is read."""
    outcome = await store.an_outcome(actor.workspace)
    if outcome is not None:
        check_home(actor, outcome.conversation, "workspace", actor.workspace)


def _key(store: RedisStore, actor: Actor) -> str:
    # Scoped to the person and tenant: a delivery id someone else chose can never mark
    # another person's request done.
    where = f"{actor.platform}:{actor.workspace}:{actor.user}"
    return store.keys.dedupe(f"delivery:{where}:{actor.delivery}", actor.workspace)


def mark_in(commit: Commit, store: RedisStore, actor: Actor) -> Commit:
    """Mark `actor`'s delivery done in `commit`, and refuse the commit (first of its checks,
    when `commit` is new) if it was done before. Without a delivery id, adds nothing."""
    if actor.delivery is None:
        return commit
    key = _key(store, actor)
    commit.absent(key, DONE)
    return commit.op("SET", key, "1", "EX", DELIVERY_TTL_S)


def marked(store: RedisStore, actor: Actor) -> Commit:
    """A new commit that does `actor`'s delivery."""
    return mark_in(Commit(), store, actor)


def refused_as_done(refused: TransitionRefused) -> bool:
    """Whether a commit was refused because its delivery was done before."""
    return refused.reason == DONE


async def done_before(store: RedisStore, actor: Actor) -> bool:
    """Whether `actor`'s delivery was done by an earlier run."""
    return actor.delivery is not None and await store.flags.raised(_key(store, actor))
