"""ChatNotifier: renders each notice as a card and sends it through the platform's gateway."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Protocol, runtime_checkable

from orchestrator.approvals import quorum
from orchestrator.approvals.decide import withdrawn_because
from orchestrator.cases.stats import CaseStats
from orchestrator.errors import Refused
from orchestrator.models import (
    Approval,
    ConversationRef,
    Evaluation,
    MessageRef,
    Outcome,
    OutcomeStatus,
    Step,
    StepStatus,
)
from orchestrator.notify import deliveries
from orchestrator.notify.deliveries import CallLog
from orchestrator.notify.notices import (
    ControlData,
    DigestData,
    EndedData,
    EscalatedData,
    IncidentData,
    IntakeData,
    Notice,
    NoticeKind,
    PlanData,
    ProgressData,
)
from orchestrator.notify.outages import ChannelOutages
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.runtime.clock import Clock, SystemClock
from orchestrator.steps.govern import approval_id_for
from orchestrator.store.redis_store import RedisStore
from orchestrator.workspace.catalog import Workspace

from handlers import render, texts
from handlers.cards import Card
from handlers.digest import digest_cards
from handlers.names import Names
from handlers.ports import ChatGateway

log = logging.getLogger("baton.notifier")

PROGRESS_REF = "progress_msg"
APPROVAL_REF = "msg"
CHANNEL_REF = "approvals_channel_msg"
"""The approval card's copy in the workspace's approvals channel."""
DIRECT_REF = "direct_msg:"
"""An approval card's copy in an approver's direct messages, by the approver's id."""


@runtime_checkable
class DirectMessages(Protocol):
    """A gateway that posts to a person's direct messages with Baton (Slack's IM)."""

    async def send_direct(
        self, *, conversation: ConversationRef, user: str, card: Card
    ) -> MessageRef: ...


class ChatNotifier:
    """Implements the core's `Notifier` port for every platform with a gateway."""

    def __init__(
        self,
        store: RedisStore,
        gateways: Mapping[str, ChatGateway],
        workspace_of: Callable[[str], Workspace],
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.gateways = gateways
        self.workspace_of = workspace_of
        self.outages = ChannelOutages(store, clock or SystemClock())
        self.names = Names(store, gateways)
        self._renderers: dict[NoticeKind, Callable[[Notice], Awaitable[None]]] = {
            NoticeKind.INTAKE: self._intake,
            NoticeKind.STARTED: self._progress,
            NoticeKind.PROGRESS: self._progress,
            NoticeKind.PLAN: self._plan,
            NoticeKind.APPROVAL_REQUESTED: self._approval,
            NoticeKind.APPROVAL_DECIDED: self._approval,
            NoticeKind.STEP_FINISHED: self._step,
            NoticeKind.STEP_FAILED: self._step,
            NoticeKind.ENDED: self._ended,
            NoticeKind.INCIDENT: self._incident,
            NoticeKind.CHAT: self._chat,
            NoticeKind.CONTROL: self._control,
            NoticeKind.APPROVAL_REMINDER: self._sla_rung,
            NoticeKind.APPROVAL_ESCALATED: self._sla_rung,
            NoticeKind.EFFECT_MEASURED: self._effect,
            NoticeKind.DIGEST: self._digest,
        }

    async def deliver(self, notice: Notice) -> None:
        """Say `notice`. Its calls go through a call log named by the notice: a notice run
        again (its second call deferred, the platform down) makes each call once, and its
        messages keep their place in a channel that is down."""
        name = f"notice:{_delivery_id(notice)}"
        calls = CallLog(self.store, name, self.outages)
        await deliveries.delivering(calls, lambda: self._renderers[notice.kind](notice))

    def _gateway(self, notice: Notice) -> ChatGateway:
        return self.gateways[notice.conversation.platform]

    async def _send(self, notice: Notice, card: Card) -> None:
        await self._gateway(notice).send(conversation=notice.conversation, card=card)

    async def _named(self, notice: Notice, tenant: str, users: Iterable[str | None]) -> Workspace:
        """The tenant's workspace, knowing `users` by name for what people read here."""
        where = notice.conversation
        people = [u for u in users if u]
        return await self.names.named(
            self.workspace_of(tenant), where.platform, where.workspace, people
        )

    async def _intake(self, notice: Notice) -> None:
        session = notice.carried(IntakeData).session
        plain = self.workspace_of(session.workspace)
        people = [session.owner, *(session.draft.approvers or plain.people.approvers)]
        workspace = await self._named(notice, session.workspace, people)
        await self._send(notice, render.intake_card(session, workspace))

    async def _progress(self, notice: Notice) -> None:
        outcome = await self.store.outcome(notice.outcome_id or "")
        said = notice.carried(ProgressData)
        await self._show_progress(notice, outcome, said.evaluation, said.cases)

    async def _show_progress(
        self,
        notice: Notice,
        outcome: Outcome,
        evaluation: Evaluation | None,
        cases: CaseStats | None = None,
    ) -> None:
        workspace = self.workspace_of(outcome.workspace)
        steps = await self.store.steps(outcome.id)
        card = render.progress_card(
            outcome,
            evaluation,
            steps,
            workspace,
            await self.store.spent(outcome.id),
            cases=cases,
        )
        await self._show(notice, self.store.keys.outcome(outcome.id), PROGRESS_REF, card)

    async def _show(self, notice: Notice, key: str, name: str, card: Card) -> None:
        """Update the record's message in place, or post it when there is none, or none any
        more (deleted, or too old for the platform to edit: it refuses the update)."""
        ref = await self.store.message_ref(key, name)
        if ref is not None:
            try:
                await self._gateway(notice).update(ref=ref, card=card)
                return
            except Refused as refused:
                log.warning("message %s not updated (%s); posting it again", name, refused)
        ref = await self._gateway(notice).send(conversation=notice.conversation, card=card)
        await self.store.save_message_ref(key, name, ref)

    async def _plan(self, notice: Notice) -> None:
        outcome = await self.store.outcome(notice.outcome_id or "")
        plan = notice.carried(PlanData)
        steps = [s for s in await self.store.steps(outcome.id) if s.id in plan.steps]
        around = None
        if plan.around:
            rejected = await self.store.step(plan.around[0])
            around = await self.store.approval("a" + rejected.id[1:])
        who = [around.decided_by] if around else []
        workspace = await self._named(notice, outcome.workspace, who)
        await self._send(notice, render.plan_card(outcome, steps, plan, around, workspace))

    async def _approval(self, notice: Notice) -> None:
        """The approval's card, posted or updated in place. A pending one mentions its
        approvers (a Slack mention notifies them), and when first requested also reaches them
        where the outcome's conversation would not: the approvals channel, direct messages."""
        approval, outcome, card, workspace = await self._named_approval(notice)
        key = self.store.keys.approval(approval.id)
        await self._show(notice, key, APPROVAL_REF, card)
        copies = await self._copies(approval)
        for copy in copies:
            await self._gateway(notice).update(ref=copy, card=card)
        if not copies and notice.kind is NoticeKind.APPROVAL_REQUESTED and card.mentions:
            await self._reach_approvers(notice, approval, outcome, workspace, card)

    async def _copies(self, approval: Approval) -> list[MessageRef]:
        """Where else the approval's card was posted: the approvals channel, direct messages."""
        key = self.store.keys.approval(approval.id)
        people = dict.fromkeys((*approval.approvers, *approval.stand_ins.values()))
        names = [CHANNEL_REF, *(DIRECT_REF + user for user in people)]
        refs = [await self.store.message_ref(key, name) for name in names]
        return [ref for ref in refs if ref is not None]

    async def _named_approval(self, notice: Notice) -> tuple[Approval, Outcome, Card, Workspace]:
        """The approval `notice` names, its outcome, its card as it stands now, and the
        workspace knowing the people on the card by name."""
        approval = await self.store.approval(notice.approval_id or "")
        step = await self.store.step(approval.step_id)
        outcome = await self.store.outcome(approval.outcome_id)
        card, workspace = await self._approval_card(notice, approval, step, outcome)
        return approval, outcome, card, workspace

    async def _approval_card(
        self, notice: Notice, approval: Approval, step: Step, outcome: Outcome
    ) -> tuple[Card, Workspace]:
        who = render.named_on_approval(approval)
        workspace = await self._named(notice, outcome.workspace, who)
        return render.approval_card(approval, step, outcome, workspace, mention=True), workspace

    async def _reach_approvers(
        self, notice: Notice, approval: Approval, outcome: Outcome, workspace: Workspace, card: Card
    ) -> None:
        """The workspace's approvals channel, if it has one; a direct message to each
        approver when the file asks for it, or when the outcome lives in a one-to-one chat
        (nobody else would see the card there)."""
        people, where = workspace.people, notice.conversation
        if people.approvals_channel and people.approvals_channel != where.channel:
            channel = where.model_copy(update={"channel": people.approvals_channel, "thread": None})
            ref = await self._gateway(notice).send(conversation=channel, card=card)
            await self.store.save_message_ref(
                self.store.keys.approval(approval.id), CHANNEL_REF, ref
            )
        if people.notify != "dm" and not one_to_one(where):
            return
        for user in _recipients(where, outcome, approval.approvers):
            await self._direct(notice, approval, user, card)

    async def _direct(
        self, notice: Notice, approval: Approval, user: str, card: Card, *, keep: bool = True
    ) -> None:
        """`card` in `user`'s direct messages; `keep`: as the approval's copy there, updated
        with the original from then on."""
        gateway = self._gateway(notice)
        if not isinstance(gateway, DirectMessages):
            # A one-to-one chat is how this platform shows a card to one person (Teams: the
            # card refreshes itself to the approval's state whenever it is opened).
            await gateway.send_private(conversation=notice.conversation, user=user, card=card)
            return
        ref = await gateway.send_direct(conversation=notice.conversation, user=user, card=card)
        if keep:
            key = self.store.keys.approval(approval.id)
            await self.store.save_message_ref(key, DIRECT_REF + user, ref)

    async def _withdrawn(self, notice: Notice, outcome: Outcome) -> None:
        """The cards of approvals withdrawn when `outcome` ended, updated in place: they
        say why and by whom, and their buttons are gone."""
        for step in await self.store.steps(outcome.id):
            if step.status is not StepStatus.CANCELLED:
                continue
            key = self.store.keys.approval(approval_id_for(step.id))
            shown = await self.store.message_ref(key, APPROVAL_REF)
            if shown is None:
                continue  # never posted: when it is, it says it was withdrawn
            approval = await self.store.approval(approval_id_for(step.id))
            if withdrawn_because(approval) is None:
                continue
            card, _ = await self._approval_card(notice, approval, step, outcome)
            for ref in [shown, *await self._copies(approval)]:
                await self._gateway(notice).update(ref=ref, card=card)

    async def _effect(self, notice: Notice) -> None:
        """Refresh a decided approval's card in place with the step's measured effect."""
        key = self.store.keys.approval(notice.approval_id or "")
        ref = await self.store.message_ref(key, APPROVAL_REF)
        if ref is None:
            return  # the card was never posted (or is gone): nothing to update
        _, _, card, _ = await self._named_approval(notice)
        await self._gateway(notice).update(ref=ref, card=card)

    async def _digest_names(self, notice: Notice) -> dict[str, Workspace]:
        """Each tenant's workspace in the digest, knowing its owners and approvers by name."""
        people: dict[str, set[str]] = {}
        for outcome_id in notice.carried(DigestData).outcomes:
            outcome = await self.store.outcome(outcome_id)
            people.setdefault(outcome.workspace, set()).update({outcome.owner, *outcome.approvers})
        return {
            tenant: await self._named(notice, tenant, users) for tenant, users in people.items()
        }

    async def _digest(self, notice: Notice) -> None:
        """The weekly digest: cards in order, each chart uploaded right after its card."""
        gateway = self._gateway(notice)
        named = await self._digest_names(notice)
        for card in await digest_cards(self.store, named.__getitem__, notice):
            await gateway.send(conversation=notice.conversation, card=replace(card, image_png=None))
            if card.image_png:
                await gateway.upload_image(
                    conversation=notice.conversation,
                    title=card.title,
                    png=card.image_png,
                    alt=card.image_alt,
                )

    async def _step(self, notice: Notice) -> None:
        step = await self.store.step(notice.step_id or "")
        outcome = await self.store.outcome(step.outcome_id)
        rows = render.rows_noun(self.workspace_of(outcome.workspace), step.action, outcome.metric)
        await self._send(notice, render.step_card(step, failed=notice.text, rows=rows))

    async def _ended(self, notice: Notice) -> None:
        outcome = await self.store.outcome(notice.outcome_id or "")
        evaluation = notice.carried(EndedData).evaluation
        steps = await self.store.steps(outcome.id)
        workspace = self.workspace_of(outcome.workspace)
        await self._show_progress(notice, outcome, evaluation)
        await self._send(notice, render.report_card(outcome, evaluation, steps, workspace))
        await self._withdrawn(notice, outcome)

    async def _incident(self, notice: Notice) -> None:
        kind = notice.carried(IncidentData).incident
        card = Card(
            title=texts.INCIDENT_TITLE.format(id=notice.outcome_id, kind=kind)
            if notice.outcome_id
            else texts.INCIDENT_TITLE_CHANNEL.format(kind=kind),
            lines=(notice.text,),
            footer=texts.INCIDENT_RUNBOOK.format(kind=kind),
        )
        await self._send(notice, card)

    async def _chat(self, notice: Notice) -> None:
        await self._send(notice, Card(title=notice.text))

    async def _control(self, notice: Notice) -> None:
        outcome = await self.store.outcome(notice.outcome_id or "")
        status = notice.carried(ControlData).status
        await self._send(
            notice, Card(title=texts.CONTROL_DONE.format(id=outcome.id, status=status))
        )
        latest = await self.store.measurements(outcome.id, last=1)
        evaluation = evaluate(outcome, latest[-1].value, latest[-1].at) if latest else None
        await self._show_progress(notice, outcome, evaluation)
        if outcome.status is OutcomeStatus.STOPPED:
            await self._withdrawn(notice, outcome)

    async def _sla_rung(self, notice: Notice) -> None:
        """A reminder or an escalation: a new message that names who must decide, with
        the decision buttons, and the original approval card refreshed (new approvers)."""
        approval, outcome, card, workspace = await self._named_approval(notice)
        who = render.people(workspace, approval.approvers)
        escalated = _escalated_to(notice)
        if notice.kind is NoticeKind.APPROVAL_ESCALATED:
            to = workspace.display(escalated or "on-call")
            title = texts.APPROVAL_ESCALATED.format(what=approval.what, to=to)
        else:
            title = texts.APPROVAL_REMINDER.format(what=approval.what, who=who)
        deadline = texts.APPROVAL_DECIDE_BY.format(when=render.when(approval.deadline))
        rung = replace(card, title=title, footer=deadline)
        await self._send(notice, rung)
        # Said where the request was, and to each person awaited directly (the one
        # escalated to, or every approver yet to decide, or who decides for them while
        # away): a copy kept up to date where they have none yet.
        told = [escalated] if escalated in approval.approvers else awaited(approval)
        key = self.store.keys.approval(approval.id)
        for user in _recipients(notice.conversation, outcome, told):
            kept = await self.store.message_ref(key, DIRECT_REF + user)
            await self._direct(notice, approval, user, rung, keep=kept is None)
        await self._approval(notice)


def awaited(approval: Approval) -> list[str]:
    """Who a reminder is for: each approver still awaited, or who decides for them while
    they are away."""
    return list(dict.fromkeys(approval.stand_ins.get(p, p) for p in quorum.awaited(approval)))


def _recipients(where: ConversationRef, outcome: Outcome, users: Iterable[str]) -> list[str]:
    """Who gets a direct copy: everyone in `users` but the owner of an outcome that lives in
    the owner's own one-to-one chat, where it is said already."""
    alone = one_to_one(where)
    return [user for user in users if not (alone and user == outcome.owner)]


def one_to_one(where: ConversationRef) -> bool:
    """A chat of one person with Baton (a Slack DM, `D...`; a Teams personal chat, `a:...`),
    where nobody else would see what is posted."""
    prefix = {"slack": "D", "teams": "a:"}.get(where.platform)
    return prefix is not None and where.channel.startswith(prefix)


def _escalated_to(notice: Notice) -> str:
    """Who an escalation handed the approval to ("" for a reminder, or on-call at large)."""
    if notice.kind is not NoticeKind.APPROVAL_ESCALATED:
        return ""
    return notice.carried(EscalatedData).to or ""


def _delivery_id(notice: Notice) -> str:
    """The notice's id; for a notice queued before notices had ids, one made from what it
    says, so that it too keeps its name (and its place in a channel's queue) when run again."""
    if "id" in notice.model_fields_set:
        return notice.id
    said = notice.model_dump_json(exclude={"id"})
    return hashlib.sha1(said.encode(), usedforsecurity=False).hexdigest()[:24]
