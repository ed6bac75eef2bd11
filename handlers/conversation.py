"""The platform-neutral conversation: messages and clicks in, replies out."""

from __future__ import annotations

import logging
import re

from orchestrator.approvals import AlreadyDecided
from orchestrator.catalog import Workspace
from orchestrator.control import AlreadyConfirmed
from orchestrator.errors import BatonError, NotAllowed, NotFound
from orchestrator.intake import IntakeGone
from orchestrator.models import ApprovalStatus
from orchestrator.parser import match_metrics
from orchestrator.ratelimit import RateLimiter, Verdict
from orchestrator.rules import RuleBook, derive
from orchestrator.runtime import Runtime

from handlers import render, texts
from handlers.cards import Button, Card, Click, Inbound, Reply
from handlers.commands import COMMANDS, Request, run_command, text_reply

log = logging.getLogger("baton.conversation")

DEDUPE_TTL_S = 3_600
_PREFIX = re.compile(r"^\s*(?:/outcome\b|<@\w+>|@baton\b)\s*", re.IGNORECASE)


class Conversation:
    """What every chat surface calls: `on_message` and `on_click`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def on_message(self, inbound: Inbound) -> list[Reply]:
        try:
            if not await self._first_delivery(inbound.delivery_id):
                return []
            limited = await self._limited(inbound)
            if limited is not None:
                return limited
            return await self._message(inbound)
        except Exception:
            log.exception("message from %s failed", inbound.user)
            return [text_reply(texts.SOMETHING_WRONG, private=True)]

    async def on_click(self, click: Click) -> list[Reply]:
        try:
            if not await self._first_delivery(click.delivery_id):
                return []
            return await self._click(click)
        except Exception:
            log.exception("click %s by %s failed", click.action, click.user)
            return [text_reply(texts.SOMETHING_WRONG, private=True)]

    async def _limited(self, inbound: Inbound) -> list[Reply] | None:
        """None when `inbound` may go on; else the (at most one) reply saying why not."""
        workspace = inbound.conversation.workspace
        limit = self.runtime.ctx.workspace_of(workspace).rate_limit
        limiter = RateLimiter(self.runtime.ctx.store, self.runtime.ctx.clock)
        verdict = await limiter.hit(workspace, inbound.user, limit)
        if verdict is Verdict.ALLOWED:
            return None
        log.warning(
            "rate limit: %s in %s sent more than %d", inbound.user, workspace, limit.messages
        )
        if verdict is Verdict.DROPPED:
            return []
        text = texts.RATE_LIMITED.format(messages=limit.messages, seconds=limit.window_s)
        return [text_reply(text, private=True)]

    async def _first_delivery(self, delivery_id: str | None) -> bool:
        if delivery_id is None:
            return True
        return await self.runtime.ctx.store.first_time(f"delivery:{delivery_id}", DEDUPE_TTL_S)

    async def _message(self, inbound: Inbound) -> list[Reply]:
        text = _PREFIX.sub("", inbound.text).strip()
        words = text.split()
        workspace = self.runtime.ctx.workspace_of(inbound.conversation.workspace)
        if not words:
            return [text_reply(render.help_text(workspace))]
        name = words[0].lower()
        if name in COMMANDS:
            reply = await run_command(name, Request(inbound, words[1:], self.runtime))
            return [] if reply is None else [reply]
        intake = self.runtime.intake
        waiting = await intake.waiting_in(inbound.conversation)
        if waiting is not None and waiting.owner == inbound.user:
            await intake.answer(waiting, inbound.user, text)
            return []
        if len(words) == 1 and not _could_be_outcome(text, workspace):
            unknown = texts.UNKNOWN_COMMAND.format(word=words[0][:40])
            return [text_reply(unknown + render.help_text(workspace))]
        await intake.start(inbound.conversation, inbound.user, text)
        return []

    async def _click(self, click: Click) -> list[Reply]:
        handler = {
            "confirm": self._confirm,
            "cancel": self._cancel,
            "approve": self._decide,
            "reject": self._decide,
            "rule": self._rule,
        }.get(click.action)
        if handler is None:
            return []
        try:
            if not await self._same_workspace(click):
                raise NotFound(click.action, click.value)
            return await handler(click)
        except NotFound:
            return [text_reply(texts.INTAKE_GONE, private=True)]

    async def _same_workspace(self, click: Click) -> bool:
        """Whether the click's subject belongs to the workspace it came from.

        Ids travel in buttons, so a member of one workspace could send another's; the
        subject then does not exist for them (people lists alone would not stop it when
        the same user id is in both)."""
        if click.action in ("confirm", "cancel"):
            session = await self.runtime.intake.load(click.value)
            subject = session.workspace if session is not None else None
        else:
            subject = (await self.runtime.ctx.store.approval(click.value)).workspace
        return subject in (None, click.conversation.workspace)

    async def _confirm(self, click: Click) -> list[Reply]:
        try:
            outcome = await self.runtime.control.confirm(click.value, click.user)
        except NotAllowed:
            return [await self._not_owner(click)]
        except (IntakeGone, AlreadyConfirmed):
            return [text_reply(texts.ALREADY_CONFIRMED, private=True)]
        every = render.span(outcome.check_every_s)
        return [
            Reply(
                Card(
                    title=texts.CONFIRMED.format(id=outcome.id, metric=outcome.metric, every=every)
                ),
                replace=True,
            )
        ]

    async def _cancel(self, click: Click) -> list[Reply]:
        try:
            await self.runtime.intake.cancel(click.value, click.user)
        except NotAllowed:
            return [await self._not_owner(click)]
        except IntakeGone:
            return [text_reply(texts.INTAKE_GONE, private=True)]
        return [Reply(Card(title=texts.CANCELLED), replace=True)]

    async def _not_owner(self, click: Click) -> Reply:
        session = await self.runtime.intake.load(click.value)
        owner = session.owner if session else "the owner"
        return text_reply(texts.NOT_OWNER.format(owner="@" + owner), private=True)

    async def _decide(self, click: Click) -> list[Reply]:
        approve = click.action == "approve"
        if not approve and not click.reason.strip():
            return [text_reply(texts.REASON_REQUIRED, private=True)]
        try:
            await self.runtime.approvals.decide(click.value, click.user, approve, click.reason)
        except NotAllowed:
            approval = await self.runtime.ctx.store.approval(click.value)
            workspace = self.runtime.ctx.workspace_of(approval.workspace)
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
            return [_already(decided, self.runtime.ctx.workspace_of(decided.approval.workspace))]
        except BatonError as error:
            log.warning("decision failed: %s", error)
            return [text_reply(texts.SOMETHING_WRONG, private=True)]
        return [] if approve else [await self._rule_offer(click.value)]

    async def _rule_offer(self, approval_id: str) -> Reply:
        """After a rejection with a reason: the rule it suggests, one click away."""
        approval = await self.runtime.ctx.store.approval(approval_id)
        rule = derive(await self.runtime.ctx.store.step(approval.step_id))
        card = Card(
            title=texts.RULE_OFFER.format(rule=rule.name),
            lines=(texts.RULE_OFFER_DETAIL,),
            buttons=(Button(texts.RULE_BUTTON, "rule", approval_id, "primary"),),
        )
        return Reply(card, private=True)

    async def _rule(self, click: Click) -> list[Reply]:
        """Accept the rule derived from a rejected step into the workspace's policy."""
        ctx = self.runtime.ctx
        approval = await ctx.store.approval(click.value)
        if approval.status is not ApprovalStatus.REJECTED:
            return [text_reply(texts.RULE_GONE, private=True)]
        step = await ctx.store.step(approval.step_id)
        outcome = await ctx.store.outcome(approval.outcome_id)
        rule = derive(step)
        book = RuleBook(ctx.store, ctx.clock)
        workspace = ctx.workspace_of(approval.workspace)
        try:
            added = await book.add(
                workspace, approval.workspace, rule, by=click.user, step=step, outcome=outcome
            )
        except NotAllowed:
            return [text_reply(texts.RULE_NOT_ALLOWED, private=True)]
        if not added:
            return [text_reply(texts.RULE_EXISTS.format(rule=rule.name), private=True)]
        who = "@" + workspace.display(click.user)
        return [text_reply(texts.RULE_ADDED.format(who=who, rule=rule.name))]


def _already(decided: AlreadyDecided, workspace: Workspace) -> Reply:
    approval = decided.approval
    return text_reply(
        texts.ALREADY_DECIDED.format(
            status=approval.status.value,
            who="@" + workspace.display(approval.decided_by or "policy"),
            when=approval.decided_at.strftime("%H:%M") if approval.decided_at else "-",
        ),
        private=True,
    )


def _could_be_outcome(text: str, workspace: Workspace) -> bool:
    return bool(match_metrics(text, workspace)) or any(ch.isdigit() for ch in text)
