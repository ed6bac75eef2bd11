"""What a conversation may ask of the core: the one facade handlers and chat surfaces hold.

A composition root builds one `Desk` from the process's `Runtime`; a handler gets the desk,
never the runtime, its context, store or queue. Each method is something a person's turn
does: state or answer an intake, confirm or cancel it, decide or edit an approval, control
an outcome, read what a status, an audit or a list shows, what waits for whom, `away` and
`back`, the workspace's rules. Reads and changes are the core's own; the desk only names
them in one place, so what a conversation may do is read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from orchestrator.approvals import stats as decision_stats
from orchestrator.approvals.edits import Change
from orchestrator.approvals.stats import DecisionStats
from orchestrator.errors import TransitionRefused
from orchestrator.learning.evidence import Evidence, Key, library
from orchestrator.llm.usage import TokenLedger
from orchestrator.models import Approval, AuditEvent, ConversationRef, Measurement, Outcome, Step
from orchestrator.outcomes.session import Session
from orchestrator.people import actors
from orchestrator.people.actors import Actor
from orchestrator.people.delegation import Absence, Delegation
from orchestrator.people.inbox import Waiting, waiting_for
from orchestrator.people.ratelimit import RateLimiter, Verdict
from orchestrator.runtime.messages import Tick
from orchestrator.runtime.services import Runtime
from orchestrator.steps import autonomy
from orchestrator.steps.rules import LearnedRule, RuleBook
from orchestrator.workspace.catalog import Rule, Workspace


class Naming(Protocol):
    """People's names for what a person reads (implemented outside the core)."""

    async def named(
        self, workspace: Workspace, platform: str, tenant: str, users: Iterable[str]
    ) -> Workspace: ...

    async def remember(self, platform: str, tenant: str, user: str, name: str) -> None: ...


class Desk:
    """What a conversation may do. Built from a `Runtime` by the composition root; `names`
    shows people by name (without it, the workspace file's names and the ids)."""

    def __init__(self, runtime: Runtime, *, names: Naming | None = None) -> None:
        self._ctx = runtime.ctx
        self._intake = runtime.intake
        self._control = runtime.control
        self._approvals = runtime.approvals
        self._names = names

    # The workspace, the time, people's names

    def workspace(self, tenant: str) -> Workspace:
        """The workspace configuration of a tenant."""
        return self._ctx.workspace_of(tenant)

    def now(self) -> datetime:
        return self._ctx.clock.now()

    async def named(self, tenant: str, where: ConversationRef, users: Iterable[str]) -> Workspace:
        """The tenant's workspace, knowing `users` by name for what a person reads."""
        workspace = self.workspace(tenant)
        if self._names is None:
            return workspace
        return await self._names.named(workspace, where.platform, where.workspace, users)

    async def remember_name(self, where: ConversationRef, user: str, name: str) -> None:
        """A name the platform told with an activity (Teams' `from.name`)."""
        if self._names is not None:
            await self._names.remember(where.platform, where.workspace, user, name)

    # Who may go on

    async def admit(self, tenant: str, user: str) -> Verdict:
        """Whether `user` may send one more message now (the workspace's rate limit)."""
        limit = self.workspace(tenant).rate_limit
        return await RateLimiter(self._ctx.store, self._ctx.clock).hit(tenant, user, limit)

    async def done_before(self, actor: Actor) -> bool:
        """Whether `actor`'s delivery changed something in an earlier run."""
        return await actors.done_before(self._ctx.store, actor)

    async def check_workspace(self, actor: Actor) -> None:
        """Raises `NotFound` when `actor`'s workspace keeps its outcomes on another platform."""
        await actors.check_workspace(self._ctx.store, actor)

    # Intake: stating an outcome

    async def waiting_in(self, where: ConversationRef) -> Session | None:
        """The intake whose question waits in `where`, if any."""
        return await self._intake.waiting_in(where)

    async def session(self, session_id: str) -> Session | None:
        return await self._intake.load(session_id)

    def is_new_statement(self, session: Session, text: str) -> bool:
        return self._intake.is_new_statement(session, text)

    async def state(self, actor: Actor, text: str, *, replacing: Session | None = None) -> None:
        """Start an intake of `text`, leaving `replacing` (a question left unanswered)."""
        await self._intake.start(actor, text, replacing=replacing)

    async def answer(self, session: Session, actor: Actor, text: str) -> None:
        await self._intake.answer(session, actor, text)

    async def cancel(self, session_id: str, actor: Actor) -> None:
        await self._intake.cancel(session_id, actor)

    async def confirm(self, session_id: str, actor: Actor) -> Outcome:
        return await self._control.confirm(session_id, actor)

    # Approvals

    async def decide(
        self,
        approval_id: str,
        actor: Actor,
        approve: bool,
        reason: str = "",
        *,
        change: Change | None = None,
    ) -> Approval:
        """`actor`'s vote (and with `change`, the step as they corrected it)."""
        return await self._approvals.decide(approval_id, actor, approve, reason, change=change)

    async def waiting_for(self, actor: Actor) -> list[Waiting]:
        """What waits for `actor`'s decision (or for those they stand in for)."""
        return await waiting_for(self._ctx, actor)

    async def pending_approvals(self, tenant: str) -> list[Approval]:
        return await self._ctx.store.pending_approvals(tenant)

    async def decision_stats(self, tenant: str, *, outcome_id: str | None = None) -> DecisionStats:
        return await decision_stats.gather(self._ctx.store, tenant, outcome_id=outcome_id)

    # Controlling an outcome

    def may_control(self, user: str, outcome: Outcome) -> bool:
        return self._control.may_control(user, outcome)

    async def pause(self, outcome_id: str, actor: Actor) -> Outcome:
        return await self._control.pause(outcome_id, actor)

    async def resume(self, outcome_id: str, actor: Actor) -> Outcome:
        return await self._control.resume(outcome_id, actor)

    async def stop(self, outcome_id: str, actor: Actor) -> Outcome:
        return await self._control.stop(outcome_id, actor)

    async def pause_all(self, actor: Actor) -> None:
        await self._control.pause_all(actor)

    async def resume_all(self, actor: Actor) -> None:
        await self._control.resume_all(actor)

    async def check_now(self, outcome: Outcome) -> None:
        """Queue a tick of `outcome` now (`/outcome check`)."""
        await self._ctx.queue.enqueue(Tick(outcome=outcome.id), workspace=outcome.workspace)

    # Reading records, for status, lists, audits and cards

    async def outcome(self, outcome_id: str) -> Outcome:
        return await self._ctx.store.outcome(outcome_id)

    async def outcomes(self, tenant: str) -> list[Outcome]:
        return await self._ctx.store.outcomes(tenant)

    async def approval(self, approval_id: str) -> Approval:
        return await self._ctx.store.approval(approval_id)

    async def step(self, step_id: str) -> Step:
        return await self._ctx.store.step(step_id)

    async def approval_for(self, actor: Actor, approval_id: str) -> tuple[Approval, Step, Outcome]:
        """An approval of `actor`'s tenant, with its step and outcome; `NotFound` for another
        tenant's, as for one that does not exist."""
        approval = await self.approval(approval_id)
        outcome = await self.outcome(approval.outcome_id)
        actors.check_home(actor, outcome.conversation, "approval", approval_id)
        return approval, await self.step(approval.step_id), outcome

    async def steps(self, outcome_id: str) -> list[Step]:
        return await self._ctx.store.steps(outcome_id)

    async def measurements(self, outcome_id: str, last: int = 0) -> list[Measurement]:
        """The outcome's measurements, oldest first; the `last` ones only when given."""
        return await self._ctx.store.measurements(outcome_id, last=last)

    async def spent(self, outcome_id: str) -> float:
        return await self._ctx.store.spent(outcome_id)

    async def tokens_used(self, outcome_id: str) -> int:
        """The model tokens the outcome's planning and drafting used."""
        return (await TokenLedger(self._ctx.store).used_by(outcome_id)).total

    async def audit_trail(self, outcome: Outcome) -> list[AuditEvent]:
        return await self._ctx.store.audit_trail(outcome)

    async def evidence(self, tenant: str) -> dict[Key, Evidence]:
        """The workspace's measured effects, pooled across outcomes."""
        return await library(self._ctx.store, tenant)

    # Away and back

    async def away(self, actor: Actor, until: datetime, delegate: str | None) -> Absence:
        return await Delegation(self._ctx).away(actor, until, delegate)

    async def back(self, actor: Actor) -> None:
        await Delegation(self._ctx).back(actor)

    # The workspace's rules: learned from a rejection, earned by approvals

    async def learned_rules(self, tenant: str) -> list[LearnedRule]:
        """Learned rules, oldest first (the numbering `remove_rule` uses)."""
        return await self._rules().listing(tenant)

    async def add_rule(
        self,
        workspace: Workspace,
        tenant: str,
        rule: Rule,
        *,
        actor: Actor,
        step: Step,
        outcome: Outcome,
        detail: dict[str, str] | None = None,
    ) -> bool:
        """Add `rule`, derived from `step`, as `actor`'s click accepts it, once however
        often the click arrives: False when it was there already. Raises `NotAllowed` for
        someone who may not govern."""
        return await self._rules().add_by_click(
            workspace, tenant, rule, actor=actor, step=step, outcome=outcome, detail=detail
        )

    async def remove_rule(
        self, workspace: Workspace, tenant: str, number: int, actor: Actor
    ) -> Rule | None:
        """Remove the `number`-th learned rule (1-based), once per delivery: None when this
        delivery removed it in an earlier run; IndexError when there is no such rule."""
        store = self._ctx.store
        try:
            return await self._rules().remove(
                workspace,
                tenant,
                number,
                by=actor.user,
                commit=actors.marked(store, actor),
                work=actor.work,
            )
        except TransitionRefused as refused:
            if not actors.refused_as_done(refused):
                raise
            return None

    async def revoke_rule(
        self, workspace: Workspace, tenant: str, rule: Rule, actor: Actor
    ) -> Rule | None:
        """Remove the earned `rule` as `actor`'s click asks, once however often the click
        arrives; None when it was removed before."""
        store = self._ctx.store
        try:
            return await self._rules().revoke(
                workspace,
                tenant,
                rule.name,
                by=actor.user,
                commit=actors.marked(store, actor),
                work=actor.work,
            )
        except TransitionRefused as refused:
            if not actors.refused_as_done(refused):
                raise
            return rule

    async def autonomy_offer(self, approval: Approval) -> autonomy.Offer | None:
        """The auto-approval rule `approval` earned, offered (and kept) now; None if none."""
        return await autonomy.offer(self._ctx, approval)

    async def offered(self, approval: Approval) -> tuple[Rule, int] | None:
        """The rule offered after `approval`, and how many approvals earned it."""
        return await autonomy.offered(self._ctx, approval.workspace, approval.id)

    async def still_earned(self, approval: Approval, rule: Rule) -> bool:
        return await autonomy.still_earned(self._ctx, approval, rule)

    def _rules(self) -> RuleBook:
        return RuleBook(self._ctx.store, self._ctx.clock)
