"""Cases of standing outcomes: received once, worked step by step, finished once.

A case's id is its source's name and its external id, and the commit that creates it
expects no record there: a replayed cursor or a redelivered event is refused by the
same compare-and-set that would have created it. Each step of the case's playbook is
one compare-and-set on the case (`running -> running`, one position further), its
effect keyed by `<case>#<step>` so a step re-run after a crash acts once. A step waits
for a person only when its playbook condition holds for the case; that step becomes a
`Step` with an `Approval`, decided like any other.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

from orchestrator.cases import sla as case_sla
from orchestrator.cases.catalog import CasePlaybook, CasePlayStep
from orchestrator.cases.decisions import ask, began_at, govern_step, holds
from orchestrator.errors import BatonError, ConnectorError, TransitionRefused
from orchestrator.models import (
    Case,
    CaseStatus,
    CaseStepState,
    Outcome,
    OutcomeKind,
    OutcomeStatus,
    Step,
    StepStatus,
)
from orchestrator.notify.notices import ChatData, IncidentData, Notice, NoticeKind
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import RunCase
from orchestrator.runtime.queue import Delivery
from orchestrator.steps.lanes import LaneInput, Lanes
from orchestrator.steps.policy import govern
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.workspace.catalog import Rule, Workspace

LEASE_MS = 120_000
UNFINISHED = (CaseStatus.RECEIVED, CaseStatus.RUNNING, CaseStatus.AWAITING_APPROVAL)
_STOPPED_BY = {StepStatus.REJECTED: CaseStatus.REJECTED, StepStatus.EXPIRED: CaseStatus.REJECTED}


def case_id(source: str, external_id: str, tag: str = "") -> str:
    """A case's id: its source and external id (and its workspace's tag on a cluster)."""
    return f"{source}:{external_id}.{tag}" if tag else f"{source}:{external_id}"


class Cases:
    """Opens cases and runs them through their playbook (the `case` job)."""

    def __init__(self, ctx: Context, lanes: Lanes, *, worker_id: str = "worker") -> None:
        self.ctx = ctx
        self.lanes = lanes
        self.worker_id = worker_id
        self._owners: dict[str, Outcome] = {}

    async def owner(self, source: str) -> Outcome | None:
        """The standing outcome that takes `source`'s cases (the earliest confirmed)."""
        if source in self._owners:
            return self._owners[source]
        for tenant in await self.ctx.store.workspaces():
            workspace = self.ctx.workspace_of(tenant)
            for outcome in await self.ctx.store.outcomes(tenant):
                book = workspace.case_playbooks.get(outcome.case_playbook)
                if (
                    outcome.kind is OutcomeKind.STANDING
                    and outcome.status in (OutcomeStatus.ACTIVE, OutcomeStatus.PAUSED)
                    and book is not None
                    and book.source == source
                ):
                    self._owners[source] = outcome
                    return outcome
        return None

    async def open(
        self, source: str, external_id: str, data: dict[str, Any], work: Delivery | None = None
    ) -> Case | None:
        """Create the case once; `None` when it was seen before or nobody stands on `source`.
        `work`, the poll job that found it (none for a hook's event), fences the commit."""
        outcome = await self.owner(source)
        if outcome is None:
            return None
        workspace = self.ctx.workspace_of(outcome.workspace)
        book = workspace.case_playbooks[outcome.case_playbook]
        now = self.ctx.clock.now()
        plain = json.loads(json.dumps(data, default=str))
        at = workspace.case_sources[source].at
        began = began_at(plain.get(at) if at else None, now)
        case = Case(
            id=case_id(source, external_id, self.ctx.keys.tag(outcome.workspace)),
            outcome_id=outcome.id,
            workspace=outcome.workspace,
            source=source,
            external_id=external_id,
            data=plain,
            steps=tuple(CaseStepState(action=s.action) for s in book.steps),
            received_at=began,
            due_at=began + timedelta(seconds=outcome.sla_s),
        )
        commit = transitions.record(
            Commit(), self.ctx.keys, None, case, actor="system", at=now,
            action="case.received", detail={"source": source, "external_id": external_id},
        )  # fmt: skip
        commit.expect(self.ctx.keys.outcome(outcome.id), "active", "paused")
        commit.op("ZADD", self.ctx.keys.cases_open(outcome.id), case.due_at.timestamp(), case.id)
        self.ctx.queue.enqueue_in(commit, RunCase(case=case.id))
        case_sla.schedule_in(self.ctx, commit, case, book, case_sla.RUNGS[0])
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused as refused:
            if refused.key != self.ctx.keys.case(case.id):
                self._owners.pop(source, None)  # the outcome ended: look again next time
            return None
        return case

    async def run(self, case: str, work: Delivery | None) -> None:
        """The case job: carry the case as far as it can go now. Safe to run again.
        `work`, the job being handled, fences what it commits."""
        subject = f"case:{case}"
        if not await self.ctx.store.acquire(subject, self.worker_id, LEASE_MS):
            return  # another worker carries it right now
        try:
            await self._run(await self.ctx.store.case(case), work)
        finally:
            await self.ctx.store.release(subject, self.worker_id)

    async def _run(self, case: Case, work: Delivery | None) -> None:
        outcome = await self.ctx.store.outcome(case.outcome_id)
        workspace = self.ctx.workspace_of(case.workspace)
        book = workspace.case_playbooks[outcome.case_playbook]
        rules = await self.ctx.extra_rules(case.workspace)  # read once per run, not per step
        current: Case | None = case
        while current is not None and current.status in UNFINISHED:
            if current.position >= len(book.steps):
                await self._finish(current, outcome, work, CaseStatus.DONE)
                return
            current = await self._advance(current, outcome, workspace, book, rules, work)

    async def _advance(
        self,
        case: Case,
        outcome: Outcome,
        workspace: Workspace,
        book: CasePlaybook,
        rules: list[Rule],
        work: Delivery | None,
    ) -> Case | None:
        """Run or ask for the next step; the case as it is now, or `None` to stop here."""
        spec = book.steps[case.position]
        state = case.steps[case.position]
        if state.step_id is not None:
            return await self._decided(case, outcome, state.step_id, work)
        step = self._step(case, outcome, spec, workspace)
        action = workspace.actions[spec.action]
        decision = govern(
            step, action, workspace.policy,
            extra_rules=rules,
            remaining_budget=math.inf, steps_today=0,
        )  # fmt: skip
        if decision.verdict == "forbid":
            why = f"forbidden: {decision.reason}"
            await self._finish(case, outcome, work, CaseStatus.FAILED, why)
            return None
        if spec.approve_when is not None and holds(spec.approve_when, case.data):
            await ask(self.ctx, case, outcome, step, spec.approve_when, work)
            return None
        return await self._auto(case, outcome, workspace, step, work)

    def _step(self, case: Case, outcome: Outcome, spec: CasePlayStep, workspace: Workspace) -> Step:
        return Step(
            id=f"{case.id}#{case.position}",  # the connectors' idempotency key
            outcome_id=outcome.id,
            workspace=case.workspace,
            action=spec.action,
            lane=workspace.actions[spec.action].lane,
            params={**case.data, **spec.params},
            play=outcome.case_playbook,
            created_at=self.ctx.clock.now(),
            shadow=outcome.shadow,
            case_id=case.id,
            status=StepStatus.RUNNING,
        )

    async def _auto(
        self, case: Case, outcome: Outcome, workspace: Workspace, step: Step, work: Delivery | None
    ) -> Case | None:
        lane_input = LaneInput(
            step=step,
            action=workspace.actions[step.action],
            outcome=outcome,
            workspace=workspace,
            upstream={"rows": [case.data], "draft": case.draft},
            connectors=self.ctx.connectors_of(case.workspace),
            shadow=step.shadow,
            work=work,
        )
        try:
            output = await self.lanes.run(lane_input)
        except BatonError as error:
            if isinstance(error, ConnectorError) and error.transient:
                raise  # the job is retried; the step re-runs under the same key
            await self._finish(case, outcome, work, CaseStatus.FAILED, f"{step.action}: {error}")
            return None
        commit = Commit()
        decision = f"auto (case playbook {outcome.case_playbook})"
        after = self._stepped(case, commit, decision, str(output.get("draft") or ""))
        commit.expect(self.ctx.keys.outcome(outcome.id), OutcomeStatus.ACTIVE.value)
        commit.absent(self.ctx.keys.kill_switch(case.workspace), "paused for the workspace")
        if output.get("post") and not step.shadow:
            self.ctx.notify(commit, _post(outcome, case, str(output["post"])))
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused:
            return None  # paused, stopped, or another worker moved it on
        return after

    def _stepped(self, case: Case, commit: Commit, decision: str, draft: str = "") -> Case:
        """Add `case`, one step further, to `commit`."""
        now = self.ctx.clock.now()
        states = list(case.steps)
        states[case.position] = states[case.position].model_copy(
            update={"status": "succeeded", "finished_at": now, "decision": decision}
        )
        after = case.model_copy(
            update={
                "status": CaseStatus.RUNNING,
                "position": case.position + 1,
                "steps": tuple(states),
                "first_step_at": case.first_step_at or now,
                "draft": draft or case.draft,
            }
        )
        transitions.record(
            commit, self.ctx.keys, case, after, actor="system", at=now, action="case.step",
            detail={"step": case.position, "action": states[case.position].action},
        )  # fmt: skip
        return after

    async def _decided(
        self, case: Case, outcome: Outcome, step_id: str, work: Delivery | None
    ) -> Case | None:
        step = await self.ctx.store.step(step_id)
        if step.status is StepStatus.PLANNED:
            await govern_step(self.ctx, case, outcome, step, step.rationale, work)
            return None
        if step.status is StepStatus.SUCCEEDED:
            commit = Commit()
            draft = str(step.output.get("draft") or "")
            after = self._stepped(case, commit, step.decision, draft)
            try:
                await self.ctx.store.apply(commit, fenced_by=work)
            except TransitionRefused:
                return None
            return after
        if step.status in (StepStatus.REJECTED, StepStatus.EXPIRED, StepStatus.FAILED):
            status = _STOPPED_BY.get(step.status, CaseStatus.FAILED)
            await self._finish(case, outcome, work, status, f"{step.action} {step.status.value}")
        if step.status in (StepStatus.FORBIDDEN, StepStatus.CANCELLED):
            await self._finish(case, outcome, work, CaseStatus.FAILED, f"{step.action} did not run")
        return None  # awaiting a person, or the executor is running it

    async def _finish(
        self,
        case: Case,
        outcome: Outcome,
        work: Delivery | None,
        status: CaseStatus,
        error: str = "",
    ) -> None:
        now = self.ctx.clock.now()
        after = case.model_copy(update={"status": status, "done_at": now, "error": error})
        commit = transitions.record(
            Commit(), self.ctx.keys, case, after, actor="system", at=now,
            action=f"case.{status.value}", detail={"error": error} if error else {},
        )  # fmt: skip
        commit.op("ZREM", self.ctx.keys.cases_open(outcome.id), case.id)
        if status is CaseStatus.DONE:
            took = max((now - case.received_at).total_seconds(), 0.0)
            commit.op("ZADD", self.ctx.keys.cases_done(outcome.id), took, case.id)
        else:
            commit.op("HINCRBYFLOAT", self.ctx.keys.outcome(outcome.id), "cases_failed", 1)
            self.ctx.notify(commit, _stopped(outcome, case, status, error))
        await case_sla.settle_in(self.ctx, commit, case)
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused:
            return  # finished by another run: once is enough


def _post(outcome: Outcome, case: Case, text: str) -> Notice:
    return Notice.on_outcome(NoticeKind.CHAT, outcome, text=text, data=ChatData(case=case.id))


def _stopped(outcome: Outcome, case: Case, status: CaseStatus, error: str) -> Notice:
    """A case that will not be done is an exception: the channel hears of it."""
    if status is CaseStatus.REJECTED:
        return _post(outcome, case, f"Case {case.id} stopped: {error}.")
    said = IncidentData(incident="case_failed", case=case.id)
    what = f"case {case.id} failed: {error}"
    return Notice.on_outcome(NoticeKind.INCIDENT, outcome, text=what, data=said)
