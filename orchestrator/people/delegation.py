"""Absence and delegation: while an approver is away, a delegate decides for them.

`away until <day>, delegate @bob` (or a standing deputy from the workspace file's
`people.deputies`) hands someone's approvals to another person until the end of that day
(UTC). A delegate never widens who may approve: they must be eligible in the workspace
(an approver, a group member, on call) or be named as a deputy of the absent person; and
their click counts for the absent person only on an approval the delegate may decide
themselves, or as that person's named deputy. Each absent person still counts once.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.approvals import ballot, quorum
from orchestrator.errors import BatonError, TransitionRefused
from orchestrator.models import Approval, ApprovalStatus, Record
from orchestrator.notify.notices import Notice, NoticeKind
from orchestrator.people.actors import Actor, check_workspace, mark_in, marked, refused_as_done
from orchestrator.runtime.context import Context
from orchestrator.runtime.queue import Delivery
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.store.keys import Keys
from orchestrator.workspace.catalog import People


class Absence(Record):
    """Someone away, and who decides for them meanwhile."""

    user: str
    until: datetime
    """Away until this moment (the end of the day they named, UTC)."""
    delegate: str | None = None
    """Who decides for them; None: their first standing deputy, if the file names one."""
    since: datetime


class NotEligible(BatonError):
    """The named delegate may not approve in this workspace, nor is a listed deputy."""

    def __init__(self, delegate: str) -> None:
        super().__init__(f"{delegate} may not approve here")
        self.delegate = delegate


def absences_key(keys: Keys, workspace: str) -> str:
    return keys.absences(workspace)


def eligible(people: People, user: str, delegate: str) -> bool:
    """Whether `delegate` may stand in for `user` at all in this workspace."""
    members = {m for group in people.groups.values() for m in group}
    may_approve = {*people.approvers, *members, *people.on_call, people.owner}
    return delegate != user and (
        delegate in may_approve or delegate in people.deputies.get(user, ())
    )


def deputy(absence: Absence, people: People) -> str | None:
    """Who decides for an absent person: the delegate they named, else the first standing
    deputy of the workspace file."""
    if absence.delegate:
        return absence.delegate
    return next(iter(people.deputies.get(absence.user, ())), None)


def counts_for(
    approval: Approval, user: str, away: dict[str, Absence], people: People
) -> str | None:
    """Whom `user`'s vote on `approval` counts for: themselves while they have not voted,
    then an absent approver they stand in for who has not; None when they may not decide.
    Someone who has voted and stands in for nobody else gets the person their vote counted
    for (whose vote is then taken)."""
    own = user in approval.approvers
    if own and not quorum.voted(approval, user):
        return user
    for principal in approval.approvers:
        absence = away.get(principal)
        if absence is None or deputy(absence, people) != user:
            continue
        if not own and user not in people.deputies.get(principal, ()):
            continue  # a delegate who could not approve this themselves
        if not quorum.voted(approval, principal):
            return principal
    if own:
        return user
    # A delegate who decided already: their vote is taken (refused as given, not as a stranger).
    return next((v.counts_for for v in approval.votes if v.voter == user), None)


def stood_in_by(approval: Approval, away: dict[str, Absence], people: People) -> dict[str, str]:
    """Absent approver to delegate, for the approvers of `approval` away now."""
    found = {}
    for principal in approval.approvers:
        absence = away.get(principal)
        chosen = deputy(absence, people) if absence is not None else None
        if chosen is not None:
            found[principal] = chosen
    return found


class Delegation:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def absences(self, workspace: str) -> dict[str, Absence]:
        """Who is away now in `workspace` (an absence past its end is over)."""
        raw = await self.ctx.store.absences(workspace)
        now = self.ctx.clock.now()
        found = (Absence.model_validate_json(v) for v in raw)
        return {a.user: a for a in found if a.until > now}

    async def away(self, actor: Actor, until: datetime, delegate: str | None) -> Absence:
        """Record `actor` away until `until`, deciding through `delegate` (or their standing
        deputy); audited. Run again for the same delivery, it records the same absence."""
        await check_workspace(self.ctx.store, actor)
        people = self.ctx.workspace_of(actor.workspace).people
        if delegate is not None and not eligible(people, actor.user, delegate):
            raise NotEligible(delegate)
        absence = Absence(
            user=actor.user, until=until, delegate=delegate, since=self.ctx.clock.now()
        )
        commit = marked(self.ctx.store, actor)
        commit.op(
            "HSET",
            absences_key(self.ctx.keys, actor.workspace),
            actor.user,
            absence.model_dump_json(),
        )
        detail = {"until": until.isoformat(), "delegate": deputy(absence, people)}
        await self._apply(self._audited(commit, actor, "person.away", detail), actor.work)
        await self.show_on_cards(actor)
        return absence

    async def back(self, actor: Actor) -> None:
        """`actor` is back: their approvals are theirs again."""
        await check_workspace(self.ctx.store, actor)
        commit = mark_in(Commit(), self.ctx.store, actor)
        commit.op("HDEL", absences_key(self.ctx.keys, actor.workspace), actor.user)
        await self._apply(self._audited(commit, actor, "person.back", {}), actor.work)
        await self.show_on_cards(actor)

    async def show_on_cards(self, actor: Actor) -> None:
        """Name who decides for `actor` on the cards of their pending approvals (or no one
        any more), updated in place (fenced by the job handling their request, if any)."""
        for approval_id in await self.ctx.store.pending_approval_ids(actor.workspace):
            approval = await self.ctx.store.approval(approval_id)
            if actor.user in approval.approvers:
                await self.refresh(approval_id, actor.work)

    async def refresh(self, approval_id: str, work: Delivery | None = None) -> Approval:
        """The approval with its stand-ins as they are now; a change is written (with the
        approval's version, so no vote is lost) and its card updated for everyone. `work`,
        the job being handled when a job refreshes it, fences the change."""
        for _ in range(ballot.TRIES):
            read = await ballot.version(self.ctx.store, approval_id)
            approval = await self.ctx.store.approval(approval_id)
            people = self.ctx.workspace_of(approval.workspace).people
            now = stood_in_by(approval, await self.absences(approval.workspace), people)
            if approval.status is not ApprovalStatus.PENDING or now == approval.stand_ins:
                return approval
            after = approval.model_copy(update={"stand_ins": now})
            key = self.ctx.keys.approval(approval_id)
            commit = ballot.advance_in(Commit(), self.ctx.keys, approval_id, read)
            commit.expect(key, ApprovalStatus.PENDING.value)
            commit.write(key, ApprovalStatus.PENDING.value, after.model_dump_json())
            outcome = await self.ctx.store.outcome(approval.outcome_id)
            notice = Notice.on_approval(NoticeKind.APPROVAL_DECIDED, outcome, approval)
            self.ctx.notify(commit, notice)
            try:
                await self.ctx.store.apply(commit, fenced_by=work)
            except TransitionRefused:
                continue  # a vote or a decision came first: look again
            return after
        return await self.ctx.store.approval(approval_id)

    def _audited(
        self, commit: Commit, actor: Actor, action: str, detail: dict[str, str | None]
    ) -> Commit:
        return transitions.audit(
            commit,
            self.ctx.keys,
            actor.workspace,
            actor=actor.user,
            at=self.ctx.clock.now(),
            action=action,
            subject=f"person:{actor.user}",
            detail=detail,
        )

    async def _apply(self, commit: Commit, work: Delivery | None) -> None:
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused as refused:
            if not refused_as_done(refused):
                raise
