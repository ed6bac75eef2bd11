"""The weekly digest: the clock enqueues a `digest` job; a worker posts one digest per
conversation with active outcomes (progress and chart, what worked, what waits for a
decision, and how much of the week's work ran without a person deciding), and the head of
the workspace's audit chain, which then lives in the chat's history, out of Redis's reach:
`baton audit verify --head` checks later that the chain still holds it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.models import (
    Approval,
    ApprovalStatus,
    ConversationRef,
    OutcomeStatus,
    Step,
    StepStatus,
)
from orchestrator.notify.notices import DigestData, Notice, NoticeKind
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import PostDigest
from orchestrator.runtime.scheduler import CRON_JOBS, CronJob
from orchestrator.store.redis_store import RedisStore

WEEK = timedelta(days=7)

CRON_JOBS.append(
    CronJob(
        name="weekly_digest",
        message=PostDigest,
        cron={"day_of_week": "mon", "hour": "9", "minute": "0"},
    )
)


@dataclass(frozen=True)
class Week:
    """What happened to one outcome's steps in a week."""

    ran: int
    """Steps that finished (succeeded or failed)."""
    auto: int
    """Of those, steps policy let run without a person."""
    decisions: int
    """Approvals a person decided (approved or rejected)."""


def week_of(steps: Sequence[Step], approvals: Sequence[Approval], since: datetime) -> Week:
    """The week since `since`, from the steps and their approvals."""
    finished = (StepStatus.SUCCEEDED, StepStatus.FAILED)
    ran = [s for s in steps if s.status in finished and s.finished_at and s.finished_at >= since]
    decided = (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
    decisions = [
        a
        for a in approvals
        if a.status in decided and a.decided_by and a.decided_at and a.decided_at >= since
    ]
    auto = sum(1 for s in ran if s.decision.startswith("auto"))
    return Week(ran=len(ran), auto=auto, decisions=len(decisions))


async def audit_head(store: RedisStore, workspace: str) -> str:
    """The head of `workspace`'s audit chain to post: `seq:fingerprint` (an HMAC of the
    last event's link hash: only the audit key produces it)."""
    head = await store.audit_head(store.keys.audit(workspace))
    return f"{head.seq}:{store.seal.fingerprint(workspace, head.seq, head.hash)}"


class Digest:
    """Posts the digest of every conversation that has active outcomes."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def post(self) -> int:
        """Queue one `DIGEST` notice per conversation; returns how many."""
        since = self.ctx.clock.now() - WEEK
        by_channel: dict[str, tuple[ConversationRef, list[str]]] = {}
        for workspace in await self.ctx.store.workspaces():
            for outcome in await self.ctx.store.outcomes(workspace):
                if outcome.status is not OutcomeStatus.ACTIVE:
                    continue
                # Outcomes stated in threads of one channel share the channel's digest.
                where = outcome.conversation.model_copy(update={"thread": None})
                by_channel.setdefault(where.key, (where, []))[1].append(outcome.id)
        for where, outcome_ids in by_channel.values():
            await self.ctx.say(
                Notice(
                    kind=NoticeKind.DIGEST,
                    conversation=where,
                    data=DigestData(outcomes=tuple(outcome_ids), since=since),
                )
            )
        return len(by_channel)
