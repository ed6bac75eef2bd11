"""Planning: the port, its input, and the playbook planner that needs no model."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from orchestrator.learning.choice import choose
from orchestrator.learning.evidence import Evidence, Key
from orchestrator.models import Evaluation, Outcome, Step, StepStatus
from orchestrator.runtime.queue import Delivery
from orchestrator.steps.policy import forbids
from orchestrator.workspace.catalog import Play, Rule, Workspace

IN_FLIGHT = frozenset(
    {StepStatus.PLANNED, StepStatus.AWAITING_APPROVAL, StepStatus.APPROVED, StepStatus.RUNNING}
)


@dataclass(frozen=True)
class Proposal:
    """One step the planner proposes; `after` is the index of a proposal it depends on."""

    action: str
    params: dict[str, Any] = field(default_factory=dict)
    rationale: str = ""
    expected_impact: str = ""
    play: str = ""
    after: int | None = None
    source: str = ""
    """The model call and tool call it came from (`m12:call_0`), kept in the step's
    audit event; empty for a playbook's."""


@dataclass(frozen=True)
class PlanInput:
    """Everything a planner may use: the outcome, where it stands, and its history."""

    outcome: Outcome
    evaluation: Evaluation
    history: Sequence[Step]
    workspace: Workspace
    now: datetime
    rules: Sequence[Rule] = ()
    """Rules learned on top of the file (the file's own are in `workspace.policy`)."""
    evidence: Mapping[Key, Evidence] = field(default_factory=dict)
    """The workspace's evidence library: measured effects pooled across outcomes."""
    work: Delivery | None = field(default=None, compare=False, repr=False)
    """The tick job planning, if any: what a planner records is fenced by it."""

    def rejected(self) -> set[tuple[str, str]]:
        """(action, params) pairs a person rejected: never to be proposed again."""
        return {
            signature(s.action, s.params) for s in self.history if s.status is StepStatus.REJECTED
        }


class Planner(Protocol):
    async def propose(self, plan_input: PlanInput) -> list[Proposal]:
        """Proposed steps, from the workspace's action catalog only."""
        ...


def signature(action: str, params: dict[str, Any]) -> tuple[str, str]:
    return action, json.dumps(params, sort_keys=True, default=str)


class PlaybookPlanner:
    """Proposes one play of the metric's playbook that may run now: by Thompson sampling
    on expected effect per cost from the evidence library (`learning.choice`), or the
    first one in the playbook's order while none has evidence.

    A play may run when none of its steps was rejected with the same parameters, and it
    has not finished before (or its cooldown has passed). The draw is seeded by the
    outcome and its history, so a plan is the same when a tick is run again.
    """

    async def propose(self, plan_input: PlanInput) -> list[Proposal]:
        plays = plan_input.workspace.playbooks.get(plan_input.outcome.metric, ())
        eligible = [play for play in plays if _eligible(play, plan_input)]
        if not eligible:
            return []
        outcome = plan_input.outcome
        play = choose(
            eligible,
            metric=outcome.metric,
            direction=outcome.direction,
            workspace=plan_input.workspace,
            evidence=plan_input.evidence,
            rng=random.Random(f"{outcome.id}:{len(plan_input.history)}"),
        )
        return [
            Proposal(
                action=s.action,
                params=dict(s.params),
                rationale=play.rationale,
                expected_impact=plan_input.workspace.actions[s.action].expected_impact,
                play=play.name,
                after=i - 1 if i else None,
            )
            for i, s in enumerate(play.steps)
        ]


def _eligible(play: Play, plan_input: PlanInput) -> bool:
    rejected = plan_input.rejected()
    if rejected and any(signature(s.action, s.params) in rejected for s in play.steps):
        return False
    return _may_run_again(play.name, play.cooldown_days, plan_input) and not _forbidden(
        play, plan_input
    )


def _forbidden(play: Play, plan_input: PlanInput) -> bool:
    """A play with a step that a rule forbids outright is not proposed at all."""
    workspace = plan_input.workspace
    rules = (*workspace.policy.rules, *plan_input.rules)
    return any(
        forbids(rule, s.action, workspace.actions[s.action], dict(s.params))
        for s in play.steps
        for rule in rules
    )


def _may_run_again(play: str, cooldown_days: float | None, plan_input: PlanInput) -> bool:
    ran = [
        s
        for s in plan_input.history
        if s.play == play and s.status in (StepStatus.SUCCEEDED, StepStatus.FAILED, *IN_FLIGHT)
    ]
    if not ran:
        return True
    if cooldown_days is None or any(s.status in IN_FLIGHT for s in ran):
        return False
    last = max(s.finished_at or s.created_at for s in ran)
    return plan_input.now - last >= timedelta(days=cooldown_days)
