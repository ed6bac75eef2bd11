"""The platform-neutral conversation: messages and clicks in, replies out."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from orchestrator.approvals.decide import AlreadyDecided, AlreadyVoted, withdrawn_because
from orchestrator.errors import BatonError, NotAllowed, NotFound, TakenOver
from orchestrator.models import Approval, ApprovalStatus, ConversationRef
from orchestrator.outcomes.control import AlreadyConfirmed, outcome_id_of
from orchestrator.outcomes.intake import IntakeGone
from orchestrator.outcomes.parser import match_metrics
from orchestrator.outcomes.session import Session
from orchestrator.people.actors import Actor, check_home
from orchestrator.people.ratelimit import Verdict
from orchestrator.runtime.desk import Desk
from orchestrator.steps.rules import derive
from orchestrator.store.client import redis_full
from orchestrator.workspace.catalog import Workspace
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from handlers import autonomy as autonomy_view
from handlers import render, texts
from handlers.cards import Button, Card, Click, Inbound, Reply
from handlers.commands import COMMANDS, Request, run_command, text_reply

log = logging.getLogger("baton.conversation")

_PREFIX = re.compile(r"^\s*(?:/outcome\b|<@\w+>|@baton\b)\s*", re.IGNORECASE)
_LEAVING = re.compile(
    r"\s*(?:cancel|never\s*mind|nevermind|forget it|no thanks)\s*[.!]*\s*", re.IGNORECASE
)
"""What the owner of a waiting question says to leave it."""


def transient(error: BaseException) -> bool:
    """Redis unreachable, too slow, or out of memory: nothing was decided, and the same
    request run again later will be. A job is left to be retried instead of being answered
    "something went wrong" and counted done. A job another worker took over is that
    worker's to answer."""
    return isinstance(error, RedisConnectionError | RedisTimeoutError | TakenOver) or redis_full(
        error
    )


def actor_of(source: Inbound | Click) -> Actor:
    """Who acts in `source`, carrying the job that handles it, if any."""
    return Actor(source.user, source.conversation, source.delivery_id, source.work)


class Conversation:
    """What every chat surface calls: `on_message` and `on_click`.

    Either may run again for the same delivery (a platform's redelivery, a worker that died
    mid-job): each change is committed together with the delivery's mark, so a run after
    the commit changes nothing and answers as the first run did. Transient Redis failures
    are raised, for the caller to retry (a job) or to say "try again" (a request). It reaches
    the core only through `desk`, what a conversation may do."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def on_message(self, inbound: Inbound) -> list[Reply]:
        try:
            text = _PREFIX.sub("", inbound.text).strip()
            if await self._taken(inbound, text):
                return []  # its statement or answer was taken; the intake job says the rest
            limited = await self._limited(inbound)
            if limited is not None:
                return limited
            return await self._message(inbound, text)
        except Exception as error:
            if transient(error):
                raise
            log.exception("message from %s failed", inbound.user)
            return [text_reply(texts.SOMETHING_WRONG, private=True)]

    async def on_click(self, click: Click) -> list[Reply]:
        try:
            return await self._click(click)
        except Exception as error:
            if transient(error):
                raise
            log.exception("click %s by %s failed", click.action, click.user)
            return [text_reply(texts.SOMETHING_WRONG, private=True)]

    async def _limited(self, inbound: Inbound) -> list[Reply] | None:
        """None when `inbound` may go on; else the (at most one) reply saying why not."""
        workspace = inbound.conversation.workspace
        limit = self.desk.workspace(workspace).rate_limit
        verdict = await self.desk.admit(workspace, inbound.user)
        if verdict is Verdict.ALLOWED:
            return None
        log.warning(
            "rate limit: %s in %s sent more than %d", inbound.user, workspace, limit.messages
        )
        if verdict is Verdict.DROPPED:
            return []
        text = texts.RATE_LIMITED.format(messages=limit.messages, seconds=limit.window_s)
        return [text_reply(text, private=True)]

    async def _taken(self, inbound: Inbound, text: str) -> bool:
        """Whether this delivery's words were taken in an earlier run. Commands run again
        instead: each either only reads or changes things once, and answers again."""
        words = text.split()
        if not words or words[0].lower() in COMMANDS:
            return False
        return await self.desk.done_before(actor_of(inbound))

    async def _message(self, inbound: Inbound, text: str) -> list[Reply]:
        words = text.split()
        workspace = self.desk.workspace(inbound.conversation.workspace)
        if not words:  # a bare mention: help, to the person
            return [text_reply(render.help_text(workspace), private=True)]
        name = words[0].lower()
        if name in COMMANDS:
            reply = await run_command(name, Request(inbound, words[1:], self.desk))
            return [] if reply is None else [reply]
        actor = actor_of(inbound)
        waiting = await self.desk.waiting_in(inbound.conversation)
        if waiting is not None:
            answered = await self._answer(waiting, inbound, text)
            if answered is not None:
                return answered
        if len(words) == 1 and not _could_be_outcome(text, workspace):
            unknown = texts.UNKNOWN_COMMAND.format(word=words[0][:40])
            return [text_reply(unknown + render.help_text(workspace), private=True)]
        try:
            await self.desk.state(actor, text, replacing=waiting)
        except NotFound:  # a workspace whose outcomes live on another platform
            return [text_reply(texts.OTHER_TENANT, private=True)]
        return []

    async def _answer(self, waiting: Session, inbound: Inbound, text: str) -> list[Reply] | None:
        """Words said while a question waits: only its owner answers it (anyone else is
        told so, privately, and changes nothing); the owner may leave it, or state something
        new instead. None: a new statement, to start."""
        if waiting.owner != inbound.user:
            names = await self._names(waiting.workspace, inbound.conversation, [waiting.owner])
            owner = "@" + names.display(waiting.owner)
            return [text_reply(texts.NOT_YOUR_QUESTION.format(owner=owner), private=True)]
        actor = actor_of(inbound)
        if _LEAVING.fullmatch(text):
            await self.desk.cancel(waiting.id, actor)
            return [text_reply(texts.CANCELLED)]
        if self.desk.is_new_statement(waiting, text):
            return None
        await self.desk.answer(waiting, actor, text)
        return []

    async def _click(self, click: Click) -> list[Reply]:
        handler = {
            "confirm": self._confirm,
            "cancel": self._cancel,
            "approve": self._decide,
            "reject": self._decide,
            "rule": self._rule,
            autonomy_view.ACCEPT: self._autonomy,
            autonomy_view.REVOKE: self._autonomy,
            "edit": self._edit_how,
        }.get(click.action)
        if handler is None:
            return []
        try:
            return await handler(click)
        except NotFound:  # gone, or another tenant's: nothing is revealed
            return [text_reply(texts.INTAKE_GONE, private=True)]

    async def _edit_how(self, click: Click) -> list[Reply]:
        """An Edit pressed where no form can open (a client without forms): the command."""
        return [text_reply(texts.EDIT_HOW.format(id=click.value), private=True)]

    async def _confirm(self, click: Click) -> list[Reply]:
        try:
            outcome = await self.desk.confirm(click.value, actor_of(click))
        except NotAllowed:
            return [await self._not_owner(click)]
        except (IntakeGone, AlreadyConfirmed):
            return [await self._not_confirmed(click)]
        every = render.span(outcome.check_every_s)
        return [
            Reply(
                Card(
                    title=texts.CONFIRMED.format(id=outcome.id, metric=outcome.metric, every=every)
                ),
                replace=True,
            )
        ]

    async def _not_confirmed(self, click: Click) -> Reply:
        """Why a Confirm did nothing, as it is: confirmed before (by whom, and how the outcome
        stands now), still asking, or cancelled, expired or never stated."""
        session = await self.desk.session(click.value)
        if session is not None and not session.ready:
            return text_reply(texts.NOT_READY, private=True)
        try:
            outcome = await self.desk.outcome(outcome_id_of(click.value))
            check_home(actor_of(click), outcome.conversation, "intake", click.value)
        except NotFound:
            return text_reply(texts.NOT_CONFIRMABLE, private=True)
        names = await self._names(outcome.workspace, click.conversation, [outcome.owner])
        said = texts.CONFIRMED_BEFORE.format(
            id=outcome.id, who="@" + names.display(outcome.owner), status=outcome.status.value
        )
        return text_reply(said, private=True)

    async def _cancel(self, click: Click) -> list[Reply]:
        try:
            await self.desk.cancel(click.value, actor_of(click))
        except NotAllowed:
            return [await self._not_owner(click)]
        except IntakeGone:  # said as it is: confirmed before, or gone
            return [await self._not_confirmed(click)]
        return [Reply(Card(title=texts.CANCELLED), replace=True)]

    async def _not_owner(self, click: Click) -> Reply:
        session = await self.desk.session(click.value)
        owner = session.owner if session else "the owner"
        tenant = click.conversation.workspace
        names = await self._names(tenant, click.conversation, [owner])
        return text_reply(texts.NOT_OWNER.format(owner="@" + names.display(owner)), private=True)

    async def _names(self, tenant: str, where: ConversationRef, users: list[str]) -> Workspace:
        """The tenant's workspace, knowing `users` by name for what a person reads."""
        return await self.desk.named(tenant, where, users)

    async def _decide(self, click: Click) -> list[Reply]:
        approve = click.action == "approve"
        if not approve and not click.reason.strip():
            return [text_reply(texts.REASON_REQUIRED, private=True)]
        try:
            await self.desk.decide(click.value, actor_of(click), approve, click.reason)
        except NotAllowed:
            approval = await self.desk.approval(click.value)
            workspace = await self._names(
                approval.workspace, click.conversation, list(approval.approvers)
            )
            return [
                text_reply(
                    texts.NOT_APPROVER.format(
                        outcome=approval.outcome_id,
                        approvers=", ".join("@" + workspace.display(a) for a in approval.approvers),
                    ),
                    private=True,
                )
            ]
        except AlreadyDecided as decided:
            approval = decided.approval
            who = [approval.decided_by or "policy"]
            return [
                _already(decided, await self._names(approval.workspace, click.conversation, who))
            ]
        except AlreadyVoted as voted:
            return [_voted(voted.approval, click.user, self.desk.workspace)]
        except TakenOver:
            raise  # the job is another worker's now: it decides and answers
        except BatonError as error:
            log.warning("decision failed: %s", error)
            return [text_reply(texts.SOMETHING_WRONG, private=True)]
        # An approval, deciding or counted toward a quorum, is shown on the card itself,
        # updated in place for everyone (Teams answers the click with it). An approval may
        # earn an offer to approve the same next time without asking.
        if approve:
            return await autonomy_view.after_approval(self.desk, click.value)
        return [await self._rule_offer(click.value)]

    async def _autonomy(self, click: Click) -> list[Reply]:
        """Accept or revoke an earned auto-approval rule (owners and approvers only)."""
        approval = await self.desk.approval(click.value)
        outcome = await self.desk.outcome(approval.outcome_id)
        actor = actor_of(click)
        check_home(actor, outcome.conversation, "approval", approval.id)
        workspace = await self._names(approval.workspace, click.conversation, [click.user])
        if click.action == autonomy_view.ACCEPT:
            return [await autonomy_view.accept(self.desk, click, workspace, actor)]
        return [await autonomy_view.revoke(self.desk, click, workspace, actor)]

    async def _rule_offer(self, approval_id: str) -> Reply:
        """After a rejection with a reason: the rule it suggests, one click away."""
        approval = await self.desk.approval(approval_id)
        rule = derive(await self.desk.step(approval.step_id))
        card = Card(
            title=texts.RULE_OFFER.format(rule=rule.name),
            lines=(texts.RULE_OFFER_DETAIL,),
            buttons=(Button(texts.RULE_BUTTON, "rule", approval_id, "primary"),),
        )
        return Reply(card, private=True)

    async def _rule(self, click: Click) -> list[Reply]:
        """Accept the rule derived from a rejected step into the workspace's policy."""
        desk = self.desk
        approval = await desk.approval(click.value)
        outcome = await desk.outcome(approval.outcome_id)
        check_home(actor_of(click), outcome.conversation, "approval", approval.id)
        if approval.status is not ApprovalStatus.REJECTED:
            return [text_reply(texts.RULE_GONE, private=True)]
        step = await desk.step(approval.step_id)
        rule = derive(step)
        workspace = await self._names(approval.workspace, click.conversation, [click.user])
        try:
            added = await desk.add_rule(
                workspace,
                approval.workspace,
                rule,
                actor=actor_of(click),
                step=step,
                outcome=outcome,
            )
        except NotAllowed:
            return [text_reply(texts.RULE_NOT_ALLOWED, private=True)]
        if not added:
            return [text_reply(texts.RULE_EXISTS.format(rule=rule.name), private=True)]
        who = "@" + workspace.display(click.user)
        return [text_reply(texts.RULE_ADDED.format(who=who, rule=rule.name))]


def _already(decided: AlreadyDecided, workspace: Workspace) -> Reply:
    approval = decided.approval
    if withdrawn_because(approval) is not None:  # the outcome ended: nothing is left to decide
        said = texts.WITHDRAWN_CLICK.format(**render.withdrawal(approval, workspace))
        return text_reply(said, private=True)
    return text_reply(
        texts.ALREADY_DECIDED.format(
            status=approval.status.value,
            who="@" + workspace.display(approval.decided_by or "policy"),
            when=approval.decided_at.strftime("%H:%M") if approval.decided_at else "-",
        ),
        private=True,
    )


def _voted(approval: Approval, user: str, workspace_of: Callable[[str], Workspace]) -> Reply:
    vote = next((v for v in approval.votes if user in (v.voter, v.counts_for)), None)
    workspace = workspace_of(approval.workspace)
    return text_reply(
        texts.ALREADY_VOTED.format(
            decided="rejected" if vote is not None and not vote.approve else "approved",
            when=vote.at.strftime("%H:%M") if vote is not None else "-",
            progress=render.quorum_line(approval, workspace),
        ),
        private=True,
    )


def _could_be_outcome(text: str, workspace: Workspace) -> bool:
    return bool(match_metrics(text, workspace)) or any(ch.isdigit() for ch in text)
