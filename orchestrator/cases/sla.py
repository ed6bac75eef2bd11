"""A case's SLA ladder: remind in the channel, escalate to on-call with a page, report
the breach.

The same ladder approvals climb (`sla.py`), measured in shares of the case's SLA: one
timer per case, replaced rung by rung, set in the commit that creates the case and
cancelled in the commit that finishes it, so no case is ever without its ladder and a
finished case never climbs it. Every rung re-checks the case, is audited and says so.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.cases.catalog import CasePlaybook
from orchestrator.models import Case, CaseStatus, Outcome
from orchestrator.notify.incidents import Incident, dedup_key
from orchestrator.notify.notices import ChatData, IncidentData, Notice, NoticeKind
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import ClimbCaseSla, Page
from orchestrator.runtime.queue import Delivery
from orchestrator.store import transitions
from orchestrator.store.commit import Commit

RUNGS = ("remind", "escalate", "breach")
AT_RISK = "case_sla_at_risk"
BREACHED = "case_sla_breached"


def timer_id(case_id: str) -> str:
    return f"case:{case_id}:sla"


def due_of(case: Case, book: CasePlaybook, rung: str) -> datetime:
    share = {"remind": book.remind_at, "escalate": book.escalate_at}.get(rung, 1.0)
    return case.received_at + (case.due_at - case.received_at) * share


def schedule_in(ctx: Context, commit: Commit, case: Case, book: CasePlaybook, rung: str) -> None:
    climb = ClimbCaseSla(case=case.id, rung=rung)
    ctx.queue.schedule_in(commit, timer_id(case.id), due_of(case, book, rung), climb)


def paged_key(ctx: Context, case_id: str) -> str:
    return ctx.keys.flag(f"paged:case:{case_id}", ctx.keys.tag_of(case_id))


async def settle_in(ctx: Context, commit: Commit, case: Case) -> None:
    """On finishing: drop the ladder, and resolve the pages that went out for the case."""
    ctx.queue.cancel_in(commit, timer_id(case.id))
    flag = paged_key(ctx, case.id)
    for key in await ctx.store.flags.marks(flag):
        resolve = _incident(case, key.split(":")[1], ctx.clock.now(), "finished", "resolve")
        ctx.queue.enqueue_in(commit, Page(incident=resolve))
    commit.op("DEL", flag)


class CaseLadder:
    """The `case_sla` job: one rung of one case's ladder."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def climb(self, case_id: str, rung: str, work: Delivery | None) -> None:
        case = await self.ctx.store.case(case_id)
        if case.status not in (
            CaseStatus.RECEIVED, CaseStatus.RUNNING, CaseStatus.AWAITING_APPROVAL,
        ):  # fmt: skip
            return
        outcome = await self.ctx.store.outcome(case.outcome_id)
        workspace = self.ctx.workspace_of(case.workspace)
        book = workspace.case_playbooks[outcome.case_playbook]
        now = self.ctx.clock.now()
        if now < due_of(case, book, rung):
            await self._rearm(case, book, rung)
            return
        commit = transitions.audit(
            Commit(), self.ctx.keys, case.workspace, actor="policy", at=now,
            action=f"case.sla_{rung}", subject=f"case:{case.id}", outcome_id=outcome.id,
            detail={"due": case.due_at.isoformat(), "waiting_on": _waiting_on(case)},
        )  # fmt: skip
        self.ctx.notify(commit, self._notice(case, outcome, rung, workspace.people.on_call))
        if rung != RUNGS[-1]:
            schedule_in(self.ctx, commit, case, book, RUNGS[RUNGS.index(rung) + 1])
        if rung in ("escalate", "breach"):
            kind = AT_RISK if rung == "escalate" else BREACHED
            commit.op("SADD", paged_key(self.ctx, case.id), dedup_key(kind, case.id))
        await self.ctx.store.apply(commit, fenced_by=work)

    async def _rearm(self, case: Case, book: CasePlaybook, rung: str) -> None:
        due = due_of(case, book, rung)
        climb = ClimbCaseSla(case=case.id, rung=rung)
        await self.ctx.queue.schedule(timer_id(case.id), due, climb, workspace=case.workspace)

    def _notice(self, case: Case, outcome: Outcome, rung: str, on_call: tuple[str, ...]) -> Notice:
        waiting = _waiting_on(case)
        due = case.due_at.strftime("%H:%M")
        if rung == "remind":
            halfway = f"Case {case.id} is halfway to its SLA (due {due}), waiting on {waiting}."
            return Notice.on_outcome(
                NoticeKind.CHAT, outcome, text=halfway, data=ChatData(case=case.id)
            )
        kind = AT_RISK if rung == "escalate" else BREACHED
        chain = ", ".join("@" + p for p in on_call) or "on-call"
        what = (
            f"case {case.id} is about to breach its SLA (due {due}), waiting on {waiting}; "
            f"escalated to {chain}"
            if rung == "escalate"
            else f"case {case.id} breached its SLA (due {due}), still waiting on {waiting}"
        )
        said = IncidentData(incident=kind, dedup_key=dedup_key(kind, case.id), case=case.id)
        return Notice.on_outcome(NoticeKind.INCIDENT, outcome, text=what, data=said)


def _waiting_on(case: Case) -> str:
    if case.position >= len(case.steps):
        return "its last commit"
    state = case.steps[case.position]
    if state.step_id:
        return f"a decision on {state.action} ({state.step_id})"
    return state.action


def _incident(case: Case, kind: str, at: datetime, what: str, action: str) -> Incident:
    return Incident(
        kind=kind,
        workspace=case.workspace,
        outcome_id=case.outcome_id,
        what=f"case {case.id} {what}",
        dedup_key=dedup_key(kind, case.id),
        action="resolve" if action == "resolve" else "trigger",
        at=at,
        details={"case": case.id},
    )
