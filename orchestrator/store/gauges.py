"""Gauges and latency histograms that the commits keep, so `/metrics` reads a few hashes
at scrape time instead of every record (constant time, however many outcomes).

A gauge or bucket is a field of one hash: `steps|lane|status` counts steps now in that
status (every step ever, archived ones included); `name|le` counts observations of at most
`le` seconds, `name|+Inf` all of them and `name|sum` their total.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from orchestrator.models import Approval, ApprovalStatus, Evaluation, Step, Verdict
from orchestrator.store import counters
from orchestrator.store.commit import Commit
from orchestrator.store.keys import SAME_SLOT, Keys
from orchestrator.store.tags import tags_in_use

if TYPE_CHECKING:
    from orchestrator.store.redis_store import TickSnapshot

LATENCY_BUCKETS_S = (
    60.0,
    300.0,
    900.0,
    3_600.0,
    14_400.0,
    43_200.0,
    86_400.0,
    172_800.0,
    604_800.0,
)
APPROVAL_DECISION = "approval_decision"
"""From an approval's request to a person's decision."""
DECISION_LATENCY = "decision_latency"
"""From the metric going off track to the first corrective step proposed."""
OFF_SINCE = "off_since"
"""An outcome's field: when its metric went off track (epoch seconds; absent when not)."""
OFF_ANSWERED = "off_answered"
"""An outcome's field: a step was proposed since it went off track."""


def gauges_key(keys: Keys, tag: str = SAME_SLOT) -> str:
    """Where commits count steps by lane and status: in their own slot (one hash per tag
    on a cluster, the one hash on a single server)."""
    return f"{keys.counters(tag).removesuffix(':counters')}:gauges"


def histograms_key(keys: Keys, tag: str = SAME_SLOT) -> str:
    return f"{keys.counters(tag).removesuffix(':counters')}:histograms"


Hash = dict[bytes | str, bytes | str]


async def read(redis: Redis, keys: Keys) -> tuple[Hash, Hash]:
    """The gauges and the histograms, summed over every tag's hashes (as one hash each,
    in Redis's own notation: an integer sum without a decimal point)."""
    tags = await tags_in_use(redis, keys)
    found = await counters.hashes(
        redis, [key(keys, tag) for key in (gauges_key, histograms_key) for tag in tags]
    )
    return _sum(found[: len(tags)]), _sum(found[len(tags) :])


def _sum(hashes: list[dict[bytes, bytes]]) -> Hash:
    total: dict[str, float] = {}
    for each in hashes:
        for name, value in each.items():
            text = name.decode() if isinstance(name, bytes) else str(name)
            total[text] = total.get(text, 0.0) + float(value)
    return {name: str(int(v)) if v.is_integer() else repr(v) for name, v in total.items()}


def track(commit: Commit, keys: Keys, before: object, after: object) -> None:
    """Count a record's move in the commit that makes it (`transitions.record`)."""
    if isinstance(after, Step):
        if isinstance(before, Step):
            if before.status is after.status:
                return
            commit.op("HINCRBY", gauges_key(keys), _steps(before), -1)
        commit.op("HINCRBY", gauges_key(keys), _steps(after), 1)
    elif isinstance(after, Approval) and _decided(before, after):
        assert after.decided_at is not None
        seconds = (after.decided_at - after.requested_at).total_seconds()
        observe(commit, keys, APPROVAL_DECISION, seconds)


def _steps(step: Step) -> str:
    return f"steps|{step.lane.value}|{step.status.value}"


def _decided(before: object, after: Approval) -> bool:
    by_a_person = after.decided_by is not None and after.decided_at is not None
    decided = after.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
    was = before.status if isinstance(before, Approval) else None
    return by_a_person and decided and was is not after.status


def observe(commit: Commit, keys: Keys, name: str, seconds: float) -> None:
    key = histograms_key(keys)
    for bound in LATENCY_BUCKETS_S:
        if seconds <= bound:
            commit.op("HINCRBY", key, f"{name}|{bound:g}", 1)
    commit.op("HINCRBY", key, f"{name}|+Inf", 1)
    commit.op("HINCRBYFLOAT", key, f"{name}|sum", seconds)


def judged(
    commit: Commit, keys: Keys, snapshot: TickSnapshot, evaluation: Evaluation, now: datetime
) -> None:
    """Start an off-track episode when the metric goes off track, end it when it is not."""
    key = keys.outcome(snapshot.outcome.id)
    if evaluation.verdict is Verdict.OFF_TRACK and snapshot.off_since is None:
        commit.op("HSET", key, OFF_SINCE, now.timestamp())
    elif evaluation.verdict is not Verdict.OFF_TRACK and snapshot.off_since is not None:
        commit.op("HDEL", key, OFF_SINCE, OFF_ANSWERED)


def proposed(
    commit: Commit, keys: Keys, snapshot: TickSnapshot, evaluation: Evaluation, now: datetime
) -> None:
    """A plan was made: the first one of an off-track episode ends its decision latency."""
    if evaluation.verdict is not Verdict.OFF_TRACK or snapshot.off_answered:
        return
    since = snapshot.off_since if snapshot.off_since is not None else now.timestamp()
    observe(commit, keys, DECISION_LATENCY, max(0.0, now.timestamp() - since))
    commit.op("HSET", keys.outcome(snapshot.outcome.id), OFF_ANSWERED, 1)
