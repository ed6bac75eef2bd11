"""`baton demo`: the whole story, scripted, through the console handlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TextIO

from bot.bootstrap import App
from bot.console import CONSOLE, ConsoleGateway, show
from bot.demo.simulation import Business
from bot.demo.stage import stage
from handlers.cards import Card, Click, Inbound
from orchestrator.models import OutcomeStatus
from orchestrator.runtime.clock import ManualClock

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
OWNER, APPROVER, SKEPTIC = "olivia", "alice", "bob"
STATEMENT = "Cut monthly churn by 2% by the end of Q1, with a budget of £500"
REJECTION = "Too generous: keep discounts at 10% or less"
MAX_DAYS = 90


class Story:
    def __init__(
        self, app: App, gateway: ConsoleGateway, clock: ManualClock, business: Business
    ) -> None:
        self.app = app
        self.gateway = gateway
        self.clock = clock
        self.business = business
        self.decided: set[str] = set()

    async def say(self, user: str, text: str) -> None:
        self.gateway.say(user, text)
        replies = await self.app.conversation.on_message(
            Inbound(conversation=CONSOLE, user=user, text=text)
        )
        await show(self.gateway, user, replies)
        await self.app.runtime.drain()

    async def click(self, user: str, action: str, value: str, reason: str = "") -> None:
        self.gateway.say(
            user, f"clicks {action.capitalize()} on {value}" + (f': "{reason}"' if reason else "")
        )
        replies = await self.app.conversation.on_click(
            Click(conversation=CONSOLE, user=user, action=action, value=value, reason=reason)
        )
        await show(self.gateway, user, replies)
        await self.app.runtime.drain()

    def open_buttons(self, action: str) -> list[tuple[str, Card]]:
        return [
            (b.value, card)
            for card in self.gateway.posted.values()
            for b in card.buttons
            if b.action == action and b.value not in self.decided
        ]

    async def decide_pending(self) -> None:
        for approval_id, card in self.open_buttons("approve"):
            self.decided.add(approval_id)
            self.clock.advance(timedelta(hours=2))
            if "percent=20" in card.text():
                await self.click(SKEPTIC, "reject", approval_id, REJECTION)
            else:
                await self.click(APPROVER, "approve", approval_id)

    async def run(self) -> OutcomeStatus:
        await self.say(OWNER, STATEMENT)
        await self.say(OWNER, "points")
        session_id = self.open_buttons("confirm")[0][0]
        await self.click(OWNER, "confirm", session_id)
        outcome_id = "o" + session_id[1:]
        for _ in range(MAX_DAYS):
            await self.decide_pending()
            outcome = await self.app.runtime.ctx.store.outcome(outcome_id)
            if outcome.status is not OutcomeStatus.ACTIVE:
                return outcome.status
            self.clock.set(START + timedelta(days=self._day() + 1))
            self.business.advance_day()
            await self.app.runtime.drain()
        return (await self.app.runtime.ctx.store.outcome(outcome_id)).status

    def _day(self) -> int:
        return (self.clock.now() - START).days


async def run_demo(out: TextIO) -> OutcomeStatus:
    async with stage(out, start=START, key_prefix="demo") as world:
        label = world.app.store_label.split(" (")[0]
        print(f"Baton demo · {world.app.workspace.name} · {label}", file=out)
        return await Story(world.app, world.gateway, world.clock, world.business).run()
