"""The App Home tab: what waits for the viewer's decision (with its buttons), outcomes
with status and progress, and every pending approval.

Published when someone opens Home, and refreshed for everyone who has opened it when
something Baton posts in the workspace changes. Refreshes are coalesced per workspace
into one `slack_home` job at most every `COALESCE_S`, which keeps views.publish well
inside its per-workspace rate.
"""

from __future__ import annotations

from datetime import timedelta

from bot.slack.blocks import home_view
from bot.slack.gateway import SlackGateway
from bot.slack.messages import SlackHome
from handlers import render, texts
from handlers.approvals_view import waiting_card
from handlers.cards import Card
from orchestrator.errors import NotFound
from orchestrator.models import ConversationRef
from orchestrator.outcomes.evaluate import evaluate
from orchestrator.people.actors import Actor
from orchestrator.runtime.desk import Desk
from orchestrator.runtime.queue import Delivery, JobQueue
from orchestrator.store.redis_store import RedisStore

COALESCE_S = 5.0
VIEWERS_TTL_S = 30 * 86_400
"""Someone who has not opened Home for a month stops receiving refreshes."""


class HomeTabs:
    """Who has opened Home per workspace, and what their Home tab shows."""

    def __init__(
        self, gateway: SlackGateway, desk: Desk, *, store: RedisStore, queue: JobQueue
    ) -> None:
        self.gateway = gateway
        self.desk = desk
        self.store = store
        self.queue = queue

    def _viewers(self, team: str) -> str:
        return self.store.keys.dedupe(f"slack_home_viewers:{team}")

    def _due(self, team: str) -> str:
        return self.store.keys.dedupe(f"slack_home_due:{team}")

    async def opened(self, team: str, user: str) -> None:
        """`user` opened Home: remember them for refreshes and publish now."""
        redis = self.store.redis
        await redis.sadd(self._viewers(team), user)
        await redis.expire(self._viewers(team), VIEWERS_TTL_S)
        await self.publish(team, user)

    async def changed(self, team: str) -> None:
        """Something in `team` changed: schedule one refresh unless one is already due."""
        if not await self.store.redis.set(self._due(team), "1", nx=True, ex=int(COALESCE_S * 4)):
            return
        due = self.desk.now() + timedelta(seconds=COALESCE_S)
        await self.queue.schedule(f"slack_home:{team}", due, SlackHome(team=team), workspace=team)

    async def refresh(self, home: SlackHome, work: Delivery) -> None:
        """The `SlackHome` job: republish Home for everyone in the team who opened it."""
        team = home.team
        redis = self.store.redis
        # Cleared first: a change made while we render schedules the next refresh.
        await redis.delete(self._due(team))
        cards, pending = await self.sections(team)
        for member in sorted(await redis.smembers(self._viewers(team))):
            user = member.decode() if isinstance(member, bytes) else str(member)
            view = home_view(cards, pending, await self.waiting(team, user))
            await self.gateway.publish_home(team=team, user=user, view=view, name=work.next_call())

    async def publish(self, team: str, user: str) -> None:
        cards, pending = await self.sections(team)
        view = home_view(cards, pending, await self.waiting(team, user))
        await self.gateway.publish_home(team=team, user=user, view=view)

    async def waiting(self, team: str, user: str) -> Card | None:
        """What waits for `user`'s decision, with the buttons: `approvals`, in Home (a
        click there is answered in their direct messages). None for a team whose outcomes
        live on another platform."""
        where = ConversationRef(platform="slack", workspace=team, channel=user)
        try:
            waiting = await self.desk.waiting_for(Actor(user, where))
        except NotFound:
            return None
        people = {user, *(w.counts_for for w in waiting)}
        return waiting_card(waiting, user, await self.desk.named(team, where, people))

    async def sections(self, team: str) -> tuple[list[Card], list[str]]:
        """One progress card per outcome, and one line per pending approval."""
        desk = self.desk
        workspace = desk.workspace(team)
        cards = []
        for outcome in await desk.outcomes(team):
            steps = await desk.steps(outcome.id)
            spent = await desk.spent(outcome.id)
            latest = await desk.measurements(outcome.id, last=1)
            evaluation = evaluate(outcome, latest[-1].value, latest[-1].at) if latest else None
            cards.append(render.progress_card(outcome, evaluation, steps, workspace, spent))
        approvals = await desk.pending_approvals(team)
        people = {user for approval in approvals for user in approval.approvers}
        where = ConversationRef(platform="slack", workspace=team, channel="")
        named = await desk.named(team, where, people)
        pending = [
            texts.SLACK_HOME_APPROVAL.format(
                id=approval.id,
                what=approval.what,
                outcome=approval.outcome_id,
                approvers=render.people(named, approval.approvers),
                when=render.when(approval.deadline),
            )
            for approval in approvals
        ]
        return cards, pending
