"""`/outcome <command>`: a registry of small command functions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

from orchestrator.errors import NotAllowed, NotFound, TransitionRefused
from orchestrator.models import ConversationRef, Outcome
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.people.actors import Actor, check_home
from orchestrator.runtime.desk import Desk

from handlers import absence, approvals_view, edit_command, effects, render, texts
from handlers.audit_summary import summary_lines
from handlers.cards import Card, Inbound, Reply
from handlers.charts import outcome_chart


@dataclass(frozen=True)
class Request:
    inbound: Inbound
    args: list[str]
    desk: Desk

    @property
    def workspace(self) -> str:
        return self.inbound.conversation.workspace

    @property
    def user(self) -> str:
        return self.inbound.user

    @property
    def where(self) -> ConversationRef:
        return self.inbound.conversation

    @property
    def actor(self) -> Actor:
        inbound = self.inbound
        return Actor(inbound.user, inbound.conversation, inbound.delivery_id, inbound.work)


Command = Callable[[Request], Awaitable[Reply | None]]
"""A command's answer; None when a notice already says it where the person asked."""


def text_reply(text: str, *, private: bool = False) -> Reply:
    return Reply(Card(title=text), private=private)


async def _outcome(request: Request, verb: str) -> Outcome:
    if not request.args:
        raise _Usage(verb)
    outcome = await request.desk.outcome(request.args[0].lower())
    check_home(request.actor, outcome.conversation, "outcome", request.args[0])
    return outcome


class _Usage(Exception):
    def __init__(self, command: str) -> None:
        super().__init__(command)
        self.command = command


def _answer(request: Request, card: Card, outcome: Outcome | None = None) -> Reply:
    """A read-only answer: to the person alone, or to everyone in the outcome's own thread
    when asked there (where the conversation is about it)."""
    there = outcome is not None and outcome.conversation.key == request.inbound.conversation.key
    return Reply(card, private=not there)


async def help_(request: Request) -> Reply:
    workspace = request.desk.workspace(request.workspace)
    return _answer(request, Card(title=render.help_text(workspace)))


async def list_(request: Request) -> Reply:
    desk = request.desk
    await desk.check_workspace(request.actor)
    outcomes = await desk.outcomes(request.workspace)
    if not outcomes:
        return text_reply(texts.NO_OUTCOMES, private=True)
    workspace = desk.workspace(request.workspace)
    lines = []
    for outcome in outcomes:
        latest = await desk.measurements(outcome.id, last=1)
        metric = workspace.metrics[outcome.metric]
        now = metric.show(latest[-1].value) if latest else "-"
        lines.append(
            f"{outcome.id} [{outcome.status.value}] {outcome.metric} {now} -> "
            f"{metric.show(outcome.target)} by {render.day(outcome.deadline)}: "
            f"{outcome.objective}"
        )
    return _answer(request, Card(title=f"Outcomes ({len(outcomes)})", lines=tuple(lines)))


async def status(request: Request) -> Reply:
    outcome = await _outcome(request, "status")
    desk = request.desk
    workspace = desk.workspace(outcome.workspace)
    latest = await desk.measurements(outcome.id, last=1)
    evaluation = evaluate(outcome, latest[-1].value, desk.now()) if latest else None
    steps = await desk.steps(outcome.id)
    card = render.progress_card(outcome, evaluation, steps, workspace, await desk.spent(outcome.id))
    history = tuple(render.step_line(s, outcome, workspace) for s in steps)
    tokens = await desk.tokens_used(outcome.id)
    used = ((texts.MODEL_TOKENS, f"{tokens:,}"),) if tokens else ()
    answer = _answer(
        request,
        Card(title=card.title, fields=card.fields + used, progress=card.progress, lines=history),
        outcome,
    )
    if answer.private:  # a chart is a file everyone in the channel sees: only in its thread
        return replace(answer, card=replace(answer.card, footer=texts.STATUS_CHART_THERE))
    # Drawing takes tens of milliseconds: off the event loop, so acknowledgements stay fast.
    chart = await asyncio.to_thread(
        partial(outcome_chart, now=desk.now()),
        outcome,
        workspace,
        await desk.measurements(outcome.id),
        steps,
    )
    return replace(answer, card=replace(answer.card, image_png=chart.png, image_alt=chart.alt))


async def audit(request: Request) -> Reply:
    outcome = await _outcome(request, "audit")
    desk = request.desk
    events = await desk.audit_trail(outcome)
    actors = [event.actor for event in events]
    workspace = await desk.named(outcome.workspace, request.where, actors)
    lines = summary_lines(events, workspace)
    stats = await desk.decision_stats(outcome.workspace, outcome_id=outcome.id)
    if not stats.empty:  # how its approvals were decided, as `approvals stats` says it
        figures = approvals_view.stats_lines(stats, workspace)
        lines += (texts.AUDIT_DECISIONS, *(f"  {line}" for line in figures))
    card = Card(
        title=f"Audit trail of {outcome.id} ({len(events)} events)",
        lines=lines,
        footer=texts.AUDIT_FULL.format(id=outcome.id),
    )
    return _answer(request, card, outcome)


def _control(verb: str) -> Command:
    async def run(request: Request) -> Reply | None:
        desk = request.desk
        if request.args and request.args[0].lower() == "all" and verb in ("pause", "resume"):
            await (desk.pause_all if verb == "pause" else desk.resume_all)(request.actor)
            return text_reply(texts.PAUSED_ALL if verb == "pause" else texts.RESUMED_ALL)
        outcome = await _outcome(request, verb)
        method = {"pause": desk.pause, "resume": desk.resume, "stop": desk.stop}[verb]
        try:
            after = await method(outcome.id, request.actor)
        except TransitionRefused:
            return text_reply(
                texts.CONTROL_ALREADY.format(
                    id=outcome.id, status=outcome.status.value, verb=verb + "d"
                ),
                private=True,
            )
        if after.conversation.key == request.inbound.conversation.key:
            return None  # the outcome's own conversation: the control notice says it there
        return text_reply(texts.CONTROL_DONE.format(id=after.id, status=after.status.value))

    return run


async def check(request: Request) -> Reply:
    outcome = await _outcome(request, "check")
    if not request.desk.may_control(request.user, outcome):
        raise NotAllowed(request.user, f"check outcome {outcome.id} now")
    await request.desk.check_now(outcome)
    return _answer(request, Card(title=texts.CHECK_QUEUED.format(id=outcome.id)), outcome)


async def policies(request: Request) -> Reply:
    """The workspace's rules: the file's, then the learned ones, numbered for `remove`."""
    desk = request.desk
    await desk.check_workspace(request.actor)
    if request.args[:1] == ["remove"]:
        return await _remove_rule(request)
    learned = await desk.learned_rules(request.workspace)
    who = [item.accepted_by for item in learned]
    workspace = await desk.named(request.workspace, request.where, who)
    lines = [
        texts.POLICIES_FILE,
        *(f"- {rule.name}: {rule.decide}" for rule in workspace.policy.rules),
    ]
    lines.append(texts.POLICIES_LEARNED if learned else texts.POLICIES_NONE_LEARNED)
    lines += [
        texts.POLICIES_LEARNED_LINE.format(
            n=n,
            rule=item.rule.name + (texts.POLICIES_EARNED if item.rule.earned else ""),
            who="@" + workspace.display(item.accepted_by),
            when=render.when(item.accepted_at),
        )
        for n, item in enumerate(learned, start=1)
    ]
    title = texts.POLICIES_TITLE.format(workspace=workspace.name, default=workspace.policy.default)
    return _answer(request, Card(title=title, lines=tuple(lines)))


async def _remove_rule(request: Request) -> Reply:
    if len(request.args) < 2 or not request.args[1].isdigit():
        raise _Usage("policies remove <n>")
    desk, actor = request.desk, request.actor
    workspace = await desk.named(request.workspace, request.where, [request.user])
    who = "@" + workspace.display(request.user)
    # Rules are numbered: this delivery run again must not remove the next one.
    done = texts.POLICY_REMOVED_BEFORE.format(n=request.args[1], who=who)
    if await desk.done_before(actor):
        return text_reply(done)
    try:
        rule = await desk.remove_rule(workspace, request.workspace, int(request.args[1]), actor)
    except NotAllowed:
        return text_reply(texts.RULE_NOT_ALLOWED, private=True)
    except IndexError:
        return text_reply(texts.POLICY_NO_SUCH_RULE.format(n=request.args[1]), private=True)
    if rule is None:
        return text_reply(done)
    return text_reply(texts.POLICY_REMOVED.format(who=who, rule=rule.name))


async def evidence(request: Request) -> Reply:
    """`/outcome evidence`: the workspace's measured effects, pooled across outcomes."""
    pooled = list((await request.desk.evidence(request.workspace)).values())
    lines = effects.evidence_rows(pooled) or [texts.EVIDENCE_EMPTY]
    return Reply(Card(title=texts.EVIDENCE_TITLE.format(count=len(pooled)), lines=tuple(lines)))


COMMANDS: dict[str, Command] = {
    "help": help_,
    "list": list_,
    "status": status,
    "audit": audit,
    "check": check,
    "policies": policies,
    "evidence": evidence,
    "pause": _control("pause"),
    "resume": _control("resume"),
    "stop": _control("stop"),
    "away": absence.away,
    "back": absence.back,
    "approvals": approvals_view.approvals,
    "what": approvals_view.what,
    "edit": edit_command.edit,
}


async def run_command(name: str, request: Request) -> Reply | None:
    try:
        return await COMMANDS[name](request)
    except _Usage as usage:
        return text_reply(texts.USAGE.format(command=usage.command), private=True)
    except NotFound as missing:
        if missing.kind == "workspace":
            return text_reply(texts.OTHER_TENANT, private=True)
        return text_reply(
            texts.NOT_FOUND.format(id=request.args[0] if request.args else ""), private=True
        )
    except NotAllowed as refused:
        return text_reply(texts.NOT_ALLOWED_CONTROL.format(what=refused.what), private=True)
