"""Intake: from plain words to a confirmed outcome, one question at a time.

Sessions live in Redis with a TTL, keyed by conversation; nothing is an outcome until
the owner confirms. The work that needs a measurement runs as a job.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from typing import Protocol

from orchestrator.errors import BatonError, NotAllowed, TransitionRefused
from orchestrator.llm.errors import UnderstandingUnavailable
from orchestrator.models import ConversationRef, Direction, Outcome, OutcomeKind
from orchestrator.notify.notices import IntakeData, Notice, NoticeKind
from orchestrator.outcomes.deadlines import find_deadline
from orchestrator.outcomes.evaluate import met
from orchestrator.outcomes.parser import Change, Draft, match_metrics, parse
from orchestrator.outcomes.session import Problem, Question, Session
from orchestrator.outcomes.targets import judge
from orchestrator.people.actors import (
    Actor,
    check_home,
    check_workspace,
    done_before,
    marked,
    refused_as_done,
)
from orchestrator.runtime.context import Context
from orchestrator.runtime.messages import AdvanceIntake
from orchestrator.runtime.queue import Delivery
from orchestrator.store.commit import Commit
from orchestrator.workspace.catalog import Workspace

log = logging.getLogger("baton.intake")

SESSION_TTL_S = 7 * 86_400


class Interpreter(Protocol):
    """Understands statements the parser cannot settle (the intelligence lane's port)."""

    async def interpret(
        self,
        *,
        text: str,
        draft: Draft,
        workspace: Workspace,
        now: datetime,
        work: Delivery | None = None,
    ) -> Draft:
        """A draft at least as complete as `draft`; what it cannot settle stays `None`.
        `work`, the job asking, fences what the interpreter records."""
        ...


def needs_model(draft: Draft) -> bool:
    """The parser left something unsettled that a model might understand."""
    if draft.sla_s is not None:
        return False  # a standing outcome: the parser settled it, or no case source fits
    return draft.metric is None or draft.amount is None or draft.deadline is None


class IntakeGone(BatonError):
    """The intake session was confirmed, cancelled or expired."""


class Intake:
    def __init__(self, ctx: Context, interpreter: Interpreter | None = None) -> None:
        self.ctx = ctx
        self.interpreter = interpreter

    async def start(self, actor: Actor, text: str, replacing: Session | None = None) -> None:
        """Open a session for `actor`'s statement and queue its first step, once per delivery;
        `replacing` (the owner's own session still asking) is forgotten in the same commit."""
        await check_workspace(self.ctx.store, actor)
        workspace = self.ctx.workspace_of(actor.workspace)
        draft = parse(text, workspace, self.ctx.clock.now())
        session = Session(
            id=await self.ctx.store.next_id("i", actor.workspace),
            workspace=actor.workspace,
            conversation=actor.where,
            owner=actor.user,
            draft=draft,
        )
        commit = marked(self.ctx.store, actor)
        if replacing is not None and replacing.owner == actor.user:
            commit.op("DEL", self.ctx.keys.intake(replacing.id))
        await self._advance_with(commit, session, actor.work)

    def is_new_statement(self, session: Session, text: str) -> bool:
        """Whether words said while `session` asks are a statement of their own, not its
        answer: a metric with a target, and a deadline or a metric other than the draft's."""
        workspace = self.ctx.workspace_of(session.workspace)
        said = parse(text, workspace, self.ctx.clock.now())
        if said.metric is None or said.amount is None:
            return False
        other = session.draft.metric is not None and said.metric != session.draft.metric
        return other or said.deadline is not None

    async def waiting_in(self, conversation: ConversationRef) -> Session | None:
        """The session in this conversation that is waiting for an answer, if any."""
        pointer = await self.ctx.store.get_json(
            self.ctx.keys.intake(conversation.key, conversation.workspace)
        )
        session = await self.load(pointer["id"]) if pointer else None
        return session if session is not None and session.asking is not None else None

    async def answer(self, session: Session, actor: Actor, text: str) -> None:
        if actor.user != session.owner:
            raise NotAllowed(actor.user, "answer for the owner of this outcome")
        check_home(actor, session.conversation, "intake", session.id)
        workspace = self.ctx.workspace_of(session.workspace)
        draft = apply_answer(session, text, workspace, self.ctx.clock.now())
        after = session.model_copy(update={"draft": draft, "asking": None})
        await self._advance_with(marked(self.ctx.store, actor), after, actor.work)

    async def _advance_with(self, commit: Commit, session: Session, work: Delivery | None) -> None:
        """Save `session` and queue its next step in `commit`; a delivery done before is done.
        `work`, the job handling the request, fences the commit."""
        self._save_in(commit, session)
        self.ctx.queue.enqueue_in(commit, AdvanceIntake(session=session.id))
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused as refused:
            if not refused_as_done(refused):
                raise

    async def advance(self, session_id: str, work: Delivery | None) -> None:
        """The intake job: ask the next question, or measure and show the Statement. What
        it says is queued in the commit that saves where the session stands, so a run cut
        off before it is run again, and a run after it finds the question asked. `work`,
        the job being handled, fences that commit."""
        session = await self.load(session_id)
        if session is None or session.ready or session.asking is not None:
            return
        session = await self._interpret(session, work)
        session = await self._next(session)
        commit = Commit()
        if session.problem is not None:
            await self._forget_in(commit, session)
        else:
            self._save_in(commit, session)
        self.ctx.notify(
            commit,
            Notice(
                kind=NoticeKind.INTAKE,
                conversation=session.conversation,
                data=IntakeData(session=session),
            ),
        )
        await self.ctx.store.apply(commit, fenced_by=work)

    async def cancel(self, session_id: str, actor: Actor) -> None:
        """Forget the owner's session, once; the same delivery run again finds it done."""
        try:
            session = await self._owned(session_id, actor)
        except IntakeGone:
            if not await done_before(self.ctx.store, actor):
                raise
            return
        await self._forget(session, marked(self.ctx.store, actor), actor.work)

    async def take(self, session_id: str, actor: Actor) -> Session:
        """The ready session, for confirmation by its owner."""
        session = await self._owned(session_id, actor)
        if not session.ready:
            raise IntakeGone(f"intake {session_id} is not ready to confirm")
        return session

    async def finish(self, session: Session, work: Delivery | None) -> None:
        """Forget a confirmed session; `work`, the job handling the confirmation, fences it."""
        await self._forget(session, work=work)

    async def load(self, session_id: str) -> Session | None:
        data = await self.ctx.store.get_json(self.ctx.keys.intake(session_id))
        return Session.model_validate(data) if data else None

    async def _owned(self, session_id: str, actor: Actor) -> Session:
        session = await self.load(session_id)
        if session is None:
            raise IntakeGone(f"intake {session_id} is no longer open")
        check_home(actor, session.conversation, "intake", session_id)
        if actor.user != session.owner:
            raise NotAllowed(actor.user, "confirm or cancel someone else's outcome")
        return session

    async def _interpret(self, session: Session, work: Delivery | None) -> Session:
        if self.interpreter is None or session.interpreted or not needs_model(session.draft):
            return session
        workspace = self.ctx.workspace_of(session.workspace)
        try:
            draft = await self.interpreter.interpret(
                text=session.draft.text,
                draft=session.draft,
                workspace=workspace,
                now=self.ctx.clock.now(),
                work=work,
            )
        except UnderstandingUnavailable as down:  # the parser's reading stands, and why
            log.warning("intake %s without the model: %s", session.id, down.why)
            return session.model_copy(update={"interpreted": True, "model_down": down.why})
        return session.model_copy(update={"draft": draft, "interpreted": True})

    async def _next(self, session: Session) -> Session:
        workspace = self.ctx.workspace_of(session.workspace)
        draft, now = session.draft, self.ctx.clock.now()
        if draft.sla_s is not None:
            return _standing_ready(session, workspace)
        problem = _early_problem(draft, workspace)
        if problem is not None:
            return session.model_copy(update={"problem": problem})
        question = _question(draft)
        if question is not None:
            return session.model_copy(update={"asking": question})
        if draft.deadline is not None and draft.deadline <= now:
            return session.model_copy(update={"problem": Problem.DEADLINE_PAST})
        return await self._measure(session, workspace)

    async def _measure(self, session: Session, workspace: Workspace) -> Session:
        draft = session.draft
        assert draft.metric is not None and draft.amount is not None
        metric = workspace.metrics[draft.metric]
        if metric.cases:  # derived from cases: only a standing outcome measures it
            detail = f"it is derived from {metric.cases} cases; say 'every ... within ...'"
            return session.model_copy(
                update={"problem": Problem.MEASURE_FAILED, "problem_detail": detail}
            )
        connectors = self.ctx.connectors_of(session.workspace)
        try:
            baseline = await connectors.get(metric.connection).measure(metric=metric)
        except BatonError as error:
            return session.model_copy(
                update={"problem": Problem.MEASURE_FAILED, "problem_detail": str(error)}
            )
        # Without a verb the metric's better direction is meant ("get churn to 5%").
        direction = draft.direction or metric.direction
        target = target_of(draft, baseline, direction)
        update: dict[str, object] = {"baseline": baseline, "target": target, "direction": direction}
        unreasonable = judge(
            metric,
            baseline,
            target,
            draft.amount,
            lambda amount: target_of(
                draft.model_copy(update={"amount": amount}), baseline, direction
            ),
        )
        if unreasonable is not None:  # the meant amount travels as the detail
            update["problem"] = Problem(unreasonable.problem.value)
            update["problem_detail"] = (
                "" if unreasonable.meant is None else f"{unreasonable.meant:g}"
            )
        elif direction is not metric.direction:
            update["problem"] = Problem.WRONG_DIRECTION
        elif met(direction, baseline, target):
            update["problem"] = Problem.ALREADY_MET
        else:
            update["ready"] = True
        return session.model_copy(update=update)

    def _save_in(self, commit: Commit, session: Session) -> Commit:
        data = json.dumps(session.model_dump(mode="json"))
        pointer = json.dumps({"id": session.id})
        commit.op("SET", self.ctx.keys.intake(session.id), data, "EX", SESSION_TTL_S)
        where = self.ctx.keys.intake(session.conversation.key, session.conversation.workspace)
        return commit.op("SET", where, pointer, "EX", SESSION_TTL_S)

    async def _forget(
        self, session: Session, commit: Commit | None = None, work: Delivery | None = None
    ) -> None:
        commit = await self._forget_in(commit or Commit(), session)
        try:
            await self.ctx.store.apply(commit, fenced_by=work)
        except TransitionRefused as refused:
            if not refused_as_done(refused):
                raise

    async def _forget_in(self, commit: Commit, session: Session) -> Commit:
        commit.op("DEL", self.ctx.keys.intake(session.id))
        pointer = await self.ctx.store.get_json(
            self.ctx.keys.intake(session.conversation.key, session.conversation.workspace)
        )
        if pointer and pointer.get("id") == session.id:
            commit.op(
                "DEL",
                self.ctx.keys.intake(session.conversation.key, session.conversation.workspace),
            )
        return commit


STANDING_HORIZON = timedelta(days=3_650)
"""A standing outcome holds indefinitely; its deadline is only this far off."""


def _standing_ready(session: Session, workspace: Workspace) -> Session:
    """A standing outcome needs no measurement to start: with no case yet, none missed."""
    book = workspace.case_playbooks.get(session.draft.case_playbook or "")
    if book is None:
        return session.model_copy(update={"problem": Problem.UNKNOWN_CASES})
    update = {
        "baseline": 100.0,
        "target": book.target_share,
        "direction": Direction.INCREASE,
        "ready": True,
    }
    return session.model_copy(update=update)


def _sign(direction: Direction) -> int:
    return -1 if direction is Direction.DECREASE else 1


def _early_problem(draft: Draft, workspace: Workspace) -> Problem | None:
    if not draft.understood_anything:
        return Problem.NOTHING_UNDERSTOOD
    if draft.deadline_invalid:
        return Problem.DEADLINE_INVALID
    if draft.metric is None and not draft.metric_candidates and not workspace.metrics:
        return Problem.UNKNOWN_METRIC
    metric = workspace.metrics.get(draft.metric or "")
    if metric is not None and draft.direction not in (None, metric.direction):
        return Problem.WRONG_DIRECTION
    return None


def _question(draft: Draft) -> Question | None:
    if draft.metric is None:
        return Question.METRIC
    if draft.amount is None:
        return Question.TARGET
    if draft.change is Change.PERCENT_AMBIGUOUS:
        return Question.PERCENT
    if draft.deadline is None:
        return Question.DEADLINE
    return None


def target_of(draft: Draft, baseline: float, direction: Direction) -> float:
    amount = draft.amount or 0.0
    sign = _sign(direction)
    if draft.change is Change.RELATIVE:
        return baseline * (1 + sign * amount / 100)
    if draft.change is Change.POINTS:
        return baseline + sign * amount
    return amount


_RELATIVE = re.compile(r"\b(relative|rel|of (?:the )?current|percent of|proportion)")
_POINTS = re.compile(r"\b(points?|pp|pts?|absolute|percentage points?)\b")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


def apply_answer(session: Session, text: str, workspace: Workspace, now: datetime) -> Draft:
    """Fold the owner's answer to the pending question into the draft."""
    draft, lowered = session.draft, text.lower()
    if session.asking is Question.METRIC:
        names = match_metrics(text, workspace)
        pick = _pick_by_number(lowered, list(workspace.metrics))
        chosen = names[0] if len(names) == 1 else pick
        return draft.model_copy(
            update={
                "metric": chosen,
                "metric_candidates": names if len(names) > 1 else draft.metric_candidates,
            }
        )
    if session.asking is Question.PERCENT:
        if _POINTS.search(lowered):
            return draft.model_copy(update={"change": Change.POINTS})
        if _RELATIVE.search(lowered):
            return draft.model_copy(update={"change": Change.RELATIVE})
        return draft
    if session.asking is Question.DEADLINE:
        deadline, phrase, _ = find_deadline(
            lowered if lowered.startswith("by ") else "by " + lowered, now
        )
        return draft.model_copy(update={"deadline": deadline, "deadline_phrase": phrase})
    if session.asking is Question.TARGET:
        reparsed = parse(f"{draft.text} {text}", workspace, now)
        return draft.model_copy(
            update={
                "amount": reparsed.amount,
                "change": reparsed.change,
                "direction": draft.direction or reparsed.direction,
            }
        )
    return draft


def _pick_by_number(text: str, names: list[str]) -> str | None:
    found = _NUMBER.fullmatch(text.strip())
    if found and found.group(1).isdigit() and 1 <= int(found.group(1)) <= len(names):
        return names[int(found.group(1)) - 1]
    return None


def outcome_from(session: Session, outcome_id: str, workspace: Workspace, now: datetime) -> Outcome:
    """The outcome a ready session describes, started now."""
    draft = session.draft
    assert draft.metric and session.baseline is not None
    assert session.target is not None and session.direction is not None
    approvers = draft.approvers or workspace.people.approvers or (session.owner,)
    book = workspace.case_playbooks.get(draft.case_playbook or "")
    standing: dict[str, object] = {}
    if book is not None and draft.sla_s:
        standing = {
            "kind": OutcomeKind.STANDING,
            "case_playbook": draft.case_playbook,
            "sla_s": draft.sla_s,
            "check_every_s": int(book.check_every_h * 3_600),
        }
    deadline = draft.deadline or now + STANDING_HORIZON
    return Outcome(
        id=outcome_id,
        workspace=session.workspace,
        objective=draft.text,
        metric=draft.metric,
        direction=session.direction,
        baseline=session.baseline,
        target=session.target,
        started_at=now,
        deadline=deadline,
        owner=session.owner,
        approvers=approvers,
        conversation=session.conversation,
        budget=draft.budget if draft.budget is not None else workspace.policy.budget,
        check_every_s=int(timedelta(hours=workspace.check_every_h).total_seconds()),
        shadow=workspace.shadow or draft.shadow,
    ).model_copy(update=standing)
