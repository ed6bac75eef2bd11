"""`baton demo onboarding`: a standing outcome, scripted, through the console handlers.

Olivia states "every new customer is onboarded within 1 hour of signing" and confirms.
Contracts are signed through the morning; each is onboarded (account, welcome email,
kickoff) without a human, except one with a non-standard payment clause, which waits for
Alice's approval of its terms. At the end the outcome measures its SLA share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

from bot.bootstrap import App
from bot.console import CONSOLE, ConsoleGateway, show
from bot.demo.simulation import Business
from bot.demo.stage import stage
from handlers.cards import Click, Inbound
from handlers.render import span
from orchestrator.cases.standing import measure
from orchestrator.cases.stats import CaseStats
from orchestrator.models import Case, CaseStatus
from orchestrator.runtime.clock import ManualClock

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
OWNER, APPROVER = "olivia", "alice"
STATEMENT = "Every new customer is onboarded within 1 hour of signing"
CLAUSE_14 = "Clause 14: payment due 90 days after invoice (standard: 30 days)"
CONTRACTS = (  # minutes after 09:00, customer, plan, non-standard terms
    (4, "Acme Ltd", "team", ""),
    (11, "Brightside Dental", "starter", ""),
    (19, "Cobalt Freight", "business", CLAUSE_14),
    (27, "Delta Bakeries", "team", ""),
    (38, "Evergreen Legal", "business", ""),
    (46, "Fjord Analytics", "starter", ""),
)
DECIDE_AFTER = timedelta(minutes=14)
MINUTES = 100


@dataclass
class Result:
    stats: CaseStats
    approvals: int

    @property
    def ok(self) -> bool:
        return (
            self.stats.done == len(CONTRACTS) and self.stats.share == 100.0 and self.approvals == 1
        )


class OnboardingStory:
    def __init__(
        self, app: App, gateway: ConsoleGateway, clock: ManualClock, business: Business
    ) -> None:
        self.app, self.gateway, self.clock, self.business = app, gateway, clock, business
        self.seen: set[str] = set()
        self.asked: dict[str, datetime] = {}
        self.out = gateway.out

    def note(self, text: str) -> None:
        print(f"[{self.clock.now():%H:%M}] {text}", file=self.out)

    async def run(self) -> Result:
        self.gateway.say(OWNER, STATEMENT)
        replies = await self.app.conversation.on_message(Inbound(CONSOLE, OWNER, STATEMENT))
        await show(self.gateway, OWNER, replies)
        await self.app.runtime.drain()
        await self.click(OWNER, "confirm", self.buttons("confirm")[0])
        for minute in range(MINUTES):
            for at, customer, plan, terms in CONTRACTS:
                if at == minute:
                    self.sign(customer, plan, terms)
            await self.decide()
            self.clock.advance(timedelta(minutes=1))
            await self.app.runtime.drain()
            await self.report_finished()
        return await self.summary()

    def sign(self, customer: str, plan: str, terms: str) -> None:
        number = self.business.sign_contract(
            customer, plan, self.clock.now().isoformat(), terms=terms
        )
        kind = f"non-standard terms: {terms}" if terms else "standard terms"
        self.note(f"contract {number} signed: {customer}, {plan} plan, {kind}")

    def buttons(self, action: str) -> list[str]:
        return [
            b.value for c in self.gateway.posted.values() for b in c.buttons if b.action == action
        ]

    async def click(self, user: str, action: str, value: str) -> None:
        self.gateway.say(user, f"clicks {action.capitalize()} on {value}")
        replies = await self.app.conversation.on_click(Click(CONSOLE, user, action, value))
        await show(self.gateway, user, replies)
        await self.app.runtime.drain()

    async def decide(self) -> None:
        """Alice reads the clause and approves it, a while after she was asked."""
        for approval in self.buttons("approve"):
            asked = self.asked.setdefault(approval, self.clock.now())
            if self.clock.now() - asked >= DECIDE_AFTER:
                await self.click(APPROVER, "approve", approval)

    async def report_finished(self) -> None:
        store = self.app.runtime.ctx.store
        for number in range(1, len(CONTRACTS) + 1):
            case_id = f"contracts:{number}"
            if case_id in self.seen or not await store.redis.exists(store.keys.case(case_id)):
                continue
            case = await store.case(case_id)
            if case.status is CaseStatus.DONE:
                self.seen.add(case_id)
                self.note(_finished(case))

    async def summary(self) -> Result:
        ctx = self.app.runtime.ctx
        outcome = (await ctx.store.outcomes(CONSOLE.workspace))[0]
        stats = await measure(ctx, outcome)
        steps = await ctx.store.steps(outcome.id)
        print(
            f"Measured SLA share: {stats.share:.1f}% of {stats.done} contracts onboarded within "
            f"{span(outcome.sla_s)} (target {outcome.target:g}%); median {span(stats.median_s)}, "
            f"p95 {span(stats.p95_s)}. A person decided {len(steps)} of "
            f"{len(CONTRACTS) * 4} steps.",
            file=self.out,
        )
        return Result(stats=stats, approvals=len(steps))


def _finished(case: Case) -> str:
    took = span(((case.done_at or case.received_at) - case.received_at).total_seconds())
    people = [s.action for s in case.steps if s.step_id]
    who = f"a person approved {', '.join(people)}" if people else "no human involved"
    return (
        f"{case.id} ({case.data.get('customer')}) onboarded {took} after signing: "
        f"account created, welcome email sent, kickoff booked, terms applied; {who}"
    )


async def run_onboarding(out: TextIO) -> Result:
    async with stage(out, start=START, key_prefix="demo-onboarding", customers=50) as world:
        print(f"Baton demo: onboarding · {world.app.workspace.name}", file=out)
        return await OnboardingStory(world.app, world.gateway, world.clock, world.business).run()
