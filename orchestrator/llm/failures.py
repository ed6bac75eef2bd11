"""Failed plans per outcome, in a row: refused at validation, or accepted and then
forbidden by policy when governed (the estimate of the audience was too low, a learned
rule). The third in a row raises `llm_invalid_plans`; a plan policy let through ends the
run. Each tick falls back to the playbooks when the model's plan is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.llm.tools import LLM_PLAY
from orchestrator.models import Outcome, Step, StepStatus
from orchestrator.notify.notices import IncidentData, Notice, NoticeKind
from orchestrator.runtime.context import Context

FAILURES_FOR_INCIDENT = 3
KEEP_S = 30 * 86_400
NOT_A_FAILED_PLAN = frozenset({"forbid (rate cap)"})
"""Forbids about when a step may run, not what it is."""


def last_model_plan(history: Sequence[Step]) -> list[Step]:
    """The steps of the model's latest accepted plan (created together, in one commit)."""
    planned = [s for s in history if s.play == LLM_PLAY and s.case_id is None]
    if not planned:
        return []
    latest = max(s.created_at for s in planned)
    return [s for s in planned if s.created_at == latest]


class PlanFailures:
    """The run of failed plans for each outcome, in Redis."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _key(self, outcome_id: str, what: str) -> str:
        return self.ctx.keys.flag(f"llm:{what}:{outcome_id}", self.ctx.keys.tag_of(outcome_id))

    async def judge_last(self, outcome: Outcome, history: Sequence[Step]) -> None:
        """Count the model's last accepted plan once policy has governed it: a step policy
        forbade makes it a failed plan; a plan fully let through ends the run."""
        plan = last_model_plan(history)
        forbidden = [
            s
            for s in plan
            if s.status is StepStatus.FORBIDDEN and s.decision not in NOT_A_FAILED_PLAN
        ]
        if not plan or (not forbidden and any(s.status is StepStatus.PLANNED for s in plan)):
            return  # nothing governed yet
        judged = self._key(outcome.id, "plan_judged")
        if await self.ctx.store.flags.swap(judged, plan[0].id, ttl_s=KEEP_S) == plan[0].id:
            return  # counted at an earlier tick
        if forbidden:
            step = forbidden[0]
            await self.failed(outcome, f"policy forbade {step.action} ({step.decision})")
        else:
            await self.ctx.store.flags.lower(self._key(outcome.id, "plan_failures"))

    async def failed(self, outcome: Outcome, why: str) -> None:
        key = self._key(outcome.id, "plan_failures")
        failures = await self.ctx.store.flags.count(key, ttl_s=KEEP_S)
        if failures != FAILURES_FOR_INCIDENT:
            return
        what = (
            f"the model's plans failed {failures} times in a row (refused, or "
            f"forbidden by policy): {why[:300]}"
        )
        said = IncidentData(incident="llm_invalid_plans", failures=failures)
        await self.ctx.say(Notice.on_outcome(NoticeKind.INCIDENT, outcome, text=what, data=said))
