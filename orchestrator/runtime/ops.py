"""Incident plumbing of the runtime: pages for incident notices and for dead letters."""

from __future__ import annotations

from orchestrator.errors import NotFound
from orchestrator.models import ConversationRef, Outcome
from orchestrator.notify.incidents import (
    Incident,
    IncidentKind,
    dedup_key,
    from_notice,
    incident_notice,
)
from orchestrator.notify.notices import IncidentData, Notice, NoticeKind
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import Notify, Page
from orchestrator.runtime.queue import Job
from orchestrator.store.commit import Commit


async def page_incident_notice(ctx: Context, notice: Notice) -> None:
    """Queue the page for an incident notice raised by the core (not already paged)."""
    if notice.kind is not NoticeKind.INCIDENT or notice.carried(IncidentData).paged:
        return
    incident = from_notice(notice, notice.conversation.workspace, ctx.clock.now())
    # A redelivered notice pages again under the same dedup key: on-call sees one incident.
    await ctx.queue.enqueue(Page(incident=incident))


async def dead_letter_incident(ctx: Context, job: Job, error: str) -> None:
    """A dead-lettered job raises an incident: posted where its outcome talks, and paged."""
    if job.kind == Page.KIND:
        return  # the pager itself is failing: paging about it would loop
    outcome_id, conversation = await _where(ctx, job)
    incident = Incident(
        kind=IncidentKind.JOB_DEAD_LETTERED.value,
        workspace=conversation.workspace if conversation else "-",
        outcome_id=outcome_id,
        what=f"a {job.kind} job was set aside: {error[:300]}",
        dedup_key=dedup_key(IncidentKind.JOB_DEAD_LETTERED.value, job.entry_id),
        at=ctx.clock.now(),
        details={"job": job.kind, "payload": job.payload},
    )
    await ctx.queue.enqueue(Page(incident=incident))
    if conversation is not None and job.kind != Notify.KIND:
        await ctx.say(incident_notice(incident, conversation, step_id=job.payload.get("step")))


def resolve_source_down(ctx: Context, commit: Commit, outcome: Outcome) -> Commit:
    """The metric source answers again: queue the resolve of the page its failures opened
    (the same dedup key the trigger carried), in the commit that records the measurement.
    """
    kind = IncidentKind.METRIC_SOURCE_DOWN.value
    resolve = Incident(
        kind=kind,
        workspace=outcome.workspace,
        outcome_id=outcome.id,
        what="the metric source answers again",
        dedup_key=dedup_key(kind, outcome.id),
        action="resolve",
        at=ctx.clock.now(),
    )
    return ctx.queue.enqueue_in(commit, Page(incident=resolve))


async def take_over_lease(ctx: Context, subject: str) -> None:
    """Drop the lease of a worker whose job was reclaimed: it held the job past the
    visibility timeout, so it is presumed dead, and waiting out its lease would leave a
    step `running` (or an outcome unticked) for minutes. Should it be alive after all,
    the compare-and-set transitions and the connectors' idempotency keys keep the
    effect single.
    """
    await ctx.store.drop_lease(subject)


async def _where(ctx: Context, job: Job) -> tuple[str | None, ConversationRef | None]:
    payload = job.payload
    try:
        if "outcome" in payload:
            outcome = await ctx.store.outcome(str(payload["outcome"]))
        elif "step" in payload:
            outcome = await ctx.store.outcome((await ctx.store.step(payload["step"])).outcome_id)
        elif "approval" in payload:
            approval = await ctx.store.approval(str(payload["approval"]))
            outcome = await ctx.store.outcome(approval.outcome_id)
        else:
            return None, None
    except NotFound:
        return None, None
    return outcome.id, outcome.conversation
