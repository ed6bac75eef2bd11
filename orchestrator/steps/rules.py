"""Rules learned from decisions: derived from a rejected step, kept in Redis on top of the file.

A derived rule is deterministic: the same rejected step always yields the same rule.

- A step with numeric parameters: forbid the action when the first numeric parameter
  (by name) is at least the rejected value ("forbid offer_discount when percent >= 20").
- Otherwise a step that reached customers: always ask before the action reaches as many
  customers again ("always ask before send_winback reaching 40 or more customers").
- Otherwise: always ask before the action.

Accepted rules join the workspace's policy for the next governance and the next plan.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from orchestrator.errors import NotAllowed, TransitionRefused
from orchestrator.models import Outcome, Record, Step
from orchestrator.people.actors import Actor, done_before, marked, refused_as_done
from orchestrator.runtime.clock import Clock
from orchestrator.runtime.queue import Delivery
from orchestrator.store import transitions
from orchestrator.store.commit import Commit
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Rule, Workspace


class LearnedRule(Record):
    """A rule a person accepted, with where it came from."""

    rule: Rule
    accepted_by: str
    accepted_at: datetime
    from_step: str
    """The rejected step the rule was derived from."""


def derive(step: Step) -> Rule:
    """The rule a rejection of `step` suggests (see the module docstring)."""
    numeric = sorted(
        (name, value)
        for name, value in step.params.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    )
    if numeric:
        param, value = numeric[0]
        return Rule(
            name=f"forbid {step.action} when {param} >= {value:g}",
            decide="forbid",
            action=step.action,
            param=param,
            op=">=",
            value=float(value),
        )
    if step.audience > 0:
        return Rule(
            name=f"always ask before {step.action} reaching {step.audience} or more customers",
            decide="approve",
            action=step.action,
            audience_over=step.audience - 1,
        )
    return Rule(name=f"always ask before {step.action}", decide="approve", action=step.action)


def may_govern(user: str, workspace: Workspace, outcome: Outcome | None = None) -> bool:
    """Owners and approvers (of the workspace, or of the outcome concerned) shape policy."""
    people = {workspace.people.owner, *workspace.people.approvers}
    if outcome is not None:
        people |= {outcome.owner, *outcome.approvers}
    return user in people - {""}


class RuleBook:
    """The learned rules of each workspace: one Redis hash, rule name -> `LearnedRule`."""

    def __init__(self, store: RedisStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def _key(self, workspace: str) -> str:
        return self.store.keys.learned_rules(workspace)

    async def listing(self, workspace: str) -> list[LearnedRule]:
        """Learned rules, oldest first (the numbering `remove` uses)."""
        raw = await self.store.learned_rules(workspace)
        learned = [LearnedRule.model_validate_json(value) for value in raw]
        return sorted(learned, key=lambda r: (r.accepted_at, r.rule.name))

    async def rules(self, workspace: str) -> list[Rule]:
        return [learned.rule for learned in await self.listing(workspace)]

    async def add_by_click(
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
        """Add `rule` as `actor`'s click accepts it, once however often the click arrives:
        True when this click added it (now, or in a run that did not get to answer), False
        when it was there already. Raises `NotAllowed` for someone who may not govern."""
        try:
            added = await self.add(
                workspace,
                tenant,
                rule,
                by=actor.user,
                step=step,
                outcome=outcome,
                commit=marked(self.store, actor),
                detail=detail,
                work=actor.work,
            )
        except TransitionRefused as refused:
            if not refused_as_done(refused):
                raise
            return True
        return added or await done_before(self.store, actor)

    async def add(
        self,
        workspace: Workspace,
        tenant: str,
        rule: Rule,
        *,
        by: str,
        step: Step,
        outcome: Outcome,
        commit: Commit | None = None,
        detail: dict[str, str] | None = None,
        work: Delivery | None = None,
    ) -> bool:
        """Add `rule` (audited with who accepted it, and `detail`) in `commit`, if given,
        with what it already holds; False when the rule is already there. `work`, the job
        handling the request, fences the commit."""
        if not may_govern(by, workspace, outcome):
            raise NotAllowed(by, "add a policy rule")
        key = self._key(tenant)
        if await self.store.has_learned_rule(tenant, rule.name):
            return False
        now = self.clock.now()
        learned = LearnedRule(rule=rule, accepted_by=by, accepted_at=now, from_step=step.id)
        commit = (commit or Commit()).op("HSET", key, rule.name, learned.model_dump_json())
        audited = {"rule": rule.name, "from_step": step.id, **(detail or {})}
        await self._apply(commit, tenant, "policy.rule_added", by, now, audited, outcome.id, work)
        return True

    async def remove(
        self,
        workspace: Workspace,
        tenant: str,
        number: int,
        *,
        by: str,
        commit: Commit | None = None,
        work: Delivery | None = None,
    ) -> Rule:
        """Remove the `number`-th learned rule (1-based) in `commit`, if given, with what it
        already holds (fenced by `work`, the job handling the request); raises IndexError
        when none."""
        if not may_govern(by, workspace):
            raise NotAllowed(by, "remove a policy rule")
        listing = await self.listing(tenant)
        if not 1 <= number <= len(listing):
            raise IndexError(number)
        return await self._drop(tenant, listing[number - 1].rule, by, commit, work)

    async def revoke(
        self,
        workspace: Workspace,
        tenant: str,
        name: str,
        *,
        by: str,
        commit: Commit | None = None,
        work: Delivery | None = None,
    ) -> Rule | None:
        """Remove the learned rule called `name` in `commit`, if given (fenced by `work`,
        the job handling the request); None when there is no such rule (removed before)."""
        if not may_govern(by, workspace):
            raise NotAllowed(by, "remove a policy rule")
        found = [item.rule for item in await self.listing(tenant) if item.rule.name == name]
        return await self._drop(tenant, found[0], by, commit, work) if found else None

    async def _drop(
        self, tenant: str, rule: Rule, by: str, commit: Commit | None, work: Delivery | None
    ) -> Rule:
        commit = (commit or Commit()).op("HDEL", self._key(tenant), rule.name)
        now = self.clock.now()
        detail = {"rule": rule.name}
        await self._apply(commit, tenant, "policy.rule_removed", by, now, detail, None, work)
        return rule

    async def _apply(
        self,
        commit: Commit,
        tenant: str,
        action: str,
        by: str,
        at: datetime,
        detail: dict[str, str],
        outcome_id: str | None = None,
        work: Delivery | None = None,
    ) -> None:
        transitions.audit(
            commit,
            self.store.keys,
            tenant,
            actor=by,
            at=at,
            action=action,
            subject=f"rule:{detail['rule']}",
            outcome_id=outcome_id,
            detail=detail,
        )
        await self.store.apply(commit, fenced_by=work)


def learned_rules(store: RedisStore, clock: Clock) -> Callable[[str], Awaitable[list[Rule]]]:
    """`Context.extra_rules_of` for a composition root: the rule book's rules."""
    return RuleBook(store, clock).rules
