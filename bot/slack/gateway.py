"""SlackGateway: the chat gateway port over Slack's Web API.

What Slack answers decides what happens to the delivery: a throttle is waited out (a long
one defers the job), an outage (5xx, Slack's transient errors, no connection) raises
`Unavailable`, so the job waits for as long as the outage lasts; a refusal for good raises
`Refused` (the job is set aside at once), except a refused message, which is sent again as
plain text, shortened, so the person still hears something.

A post made inside a delivery carries its call's name in the message's metadata. Slack has
no idempotency key, so a post whose answer was never recorded (the worker was killed after
Slack took it) is looked for by that name, among the messages posted since the attempt
(conversations.history, or conversations.replies in a thread), before it is posted again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.pacing import ChannelPacer, Sleep, take_turns
from bot.slack import found
from bot.slack.blocks import Block, escape, fallback_text, fitted, to_messages
from bot.slack.pacing import tier4_pacer
from handlers import texts
from handlers.cards import Card
from orchestrator.errors import Refused, Unavailable
from orchestrator.models import ConversationRef, MessageRef
from orchestrator.notify import deliveries

log = logging.getLogger("baton.slack")

Changed = Callable[[str], Awaitable[None]]
TeamToken = Callable[[str], Awaitable[str | None]]
"""A team's bot token (installed into many workspaces), None when it has not installed."""
Answer = dict[str, Any]
TRANSIENT = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
"""Errors Slack answers for its own trouble: the same call may succeed later."""
UNSHOWABLE = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "too_many_attachments",
        "invalid_attachments",
        "invalid_arguments",
        "no_text",
    }
)
"""Refusals of a message's content: the same words in plain text may still be shown."""
FALLBACK_LIMIT = 3_000
ALT_LIMIT = 1_000
"""Slack's longest alt text for an uploaded image."""
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


class SlackRefused(Refused):
    """Slack refused a call for good (`code` is Slack's error)."""

    def __init__(self, channel: str, method: str, code: str) -> None:
        super().__init__(channel, f"Slack {method}: {code}", code=code)
        self.method = method


class SlackGateway:
    """Posts, updates, whispers and uploads; paced per channel, honouring 429 Retry-After.

    Every failure raises, so a delivery made from a job is retried by the worker, never
    dropped; inside a delivery (`orchestrator.notify.deliveries`) each call is made once.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pacer: ChannelPacer | None = None,
        tier4: ChannelPacer | None = None,
        sleep: Sleep = asyncio.sleep,
        token_of: TeamToken | None = None,
    ) -> None:
        self.client = client
        self.token_of = token_of
        """Installed into many workspaces: each team's token; None: the client's one."""
        self.pacer = pacer or ChannelPacer(sleep=sleep)
        # Ephemeral messages and Home views are not channel posts: Slack rates
        # chat.postEphemeral and views.publish per workspace (Tier 4, 100+ a minute), so
        # they get a workspace bucket of their own instead of queueing behind the channel's.
        self.tier4 = tier4 or tier4_pacer(sleep=sleep)
        self.changed: Changed | None = None
        """Told the workspace after each post or update, to refresh App Home tabs."""

    async def send(self, *, conversation: ConversationRef, card: Card) -> MessageRef:
        """Post a card in the channel (in its thread, if any), as several messages when one
        would be over Slack's limits; the reference is the first's."""
        args = {"channel": conversation.channel, "thread_ts": conversation.thread}
        post = self.client.chat_postMessage
        first: str | None = None
        parts = to_messages(card)
        for part, blocks in enumerate(parts, start=1):
            text = _part_text(card, part, len(parts))
            answer = await self._message(
                "chat.postMessage", post, conversation, args, card, text, blocks, find=True
            )
            first = first or str(answer["ts"])
        await self.workspace_changed(conversation.workspace)
        return MessageRef(conversation=conversation, message_id=str(first))

    async def update(self, *, ref: MessageRef, card: Card) -> None:
        """Replace a posted message for everyone (chat.update outlives response_url), within
        Slack's limits: one message, shortened if it must be."""
        where = ref.conversation
        args = {"channel": where.channel, "ts": ref.message_id}
        text, blocks = fallback_text(card), fitted(card)
        await self._message("chat.update", self.client.chat_update, where, args, card, text, blocks)
        await self.workspace_changed(where.workspace)

    async def send_private(self, *, conversation: ConversationRef, user: str, card: Card) -> None:
        """An ephemeral message only `user` sees (several, when one would be too big)."""
        args = {"channel": conversation.channel, "user": user, "thread_ts": conversation.thread}
        whisper = self.client.chat_postEphemeral
        pace = (self.tier4, f"ephemeral:{conversation.workspace}")
        parts = to_messages(card)
        for part, blocks in enumerate(parts, start=1):
            text = _part_text(card, part, len(parts))
            await self._message(
                "chat.postEphemeral", whisper, conversation, args, card, text, blocks, pace
            )

    async def send_direct(
        self, *, conversation: ConversationRef, user: str, card: Card
    ) -> MessageRef:
        """A post in `user`'s direct messages with Baton (conversations.open, im:write): in
        the IM channel itself, so the message can be updated later."""
        token = await self.token_args(conversation.workspace)
        try:  # idempotent (the same IM every time), so made outside the call log
            opened = await self.client.conversations_open(users=user, **token)
            channel = str((opened.get("channel") or {}).get("id") or user)
        except SlackApiError as error:  # posting to the user id reaches the IM too
            log.info("conversations.open %s refused: %s", user, error)
            channel = user
        direct = conversation.model_copy(update={"channel": channel, "thread": None})
        return await self.send(conversation=direct, card=card)

    async def user_name(self, *, workspace: str, user: str) -> str | None:
        """How Slack names `user` (users.info, which needs the users:read scope): the
        display name, else the real name, else the handle; None when Slack will not say."""
        try:  # a form POST, as every other call Baton makes (Slack takes either)
            token = await self.token_args(workspace)
            answer = await self.client.api_call("users.info", data={"user": user, **token})
        except (SlackApiError, SlackRefused) as error:
            log.info("users.info %s refused: %s", user, error)
            return None
        found = answer.get("user") or {}
        profile = found.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), found.get("name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None

    async def upload_image(
        self, *, conversation: ConversationRef, title: str, png: bytes, alt: str = ""
    ) -> None:
        """Upload a PNG into the conversation (files.getUploadURLExternal + complete), with
        `alt` as its alt text (Slack takes up to 1,000 characters)."""
        await self._call(
            "files.upload",
            self.client.files_upload_v2,
            where=conversation,
            channel=conversation.channel,
            thread_ts=conversation.thread,
            file=png,
            filename="chart.png",
            title=title[:200],
            alt_txt=(alt or title)[:ALT_LIMIT],
        )

    async def publish_home(
        self, *, team: str, user: str, view: dict[str, Any], name: str | None = None
    ) -> None:
        """Publish `user`'s App Home tab (views.publish); `name`, the call's stable name in
        the job that publishes it (`Delivery.next_call`), lets a long wait defer the job."""
        await self._call(
            "views.publish",
            self.client.views_publish,
            where=None,
            team=team,
            call_name=name,
            pace=(self.tier4, f"views:{team}"),
            user_id=user,
            view=view,
        )

    async def _message(
        self,
        method: str,
        call: Callable[..., Awaitable[AsyncSlackResponse]],
        where: ConversationRef,
        args: Mapping[str, str | None],
        card: Card,
        text: str,
        blocks: list[Block],
        pace: tuple[ChannelPacer, str] | None = None,
        *,
        find: bool = False,
    ) -> Answer:
        """One message call; a message Slack refuses to show goes again as plain text.
        With `find`, a post attempted before is looked for before it is made again."""
        lookup = self._finder(where) if find else None
        try:
            return await self._call(
                method, call, where=where, pace=pace, find=lookup, **args, text=text, blocks=blocks
            )
        except Refused as refused:  # a SlackRefused, or the same remembered from before
            if refused.code not in UNSHOWABLE:
                raise
            log.warning(
                "Slack refused a message (%s: %s); sent as plain text", method, refused.code
            )
            text = _fallback(card, refused.code)
            return await self._call(
                method, call, where=where, pace=pace, find=lookup, **args, text=text
            )

    async def workspace_changed(self, workspace: str) -> None:
        """Tell `changed` (App Home) that something in `workspace` changed; never raises."""
        if self.changed is None:
            return
        try:
            await self.changed(workspace)
        except Exception:  # the message went out; raising would make its job post it again
            log.exception("App Home refresh for %s not scheduled", workspace)

    async def _call(
        self,
        method: str,
        call: Callable[..., Awaitable[AsyncSlackResponse]],
        *,
        where: ConversationRef | None,
        pace: tuple[ChannelPacer, str] | None = None,
        find: deliveries.Find | None = None,
        team: str | None = None,
        call_name: str | None = None,
        **kwargs: Any,
    ) -> Answer:
        """Make one call: through the running delivery's log (made once, kept in order in
        its channel) when there is one and it is about a conversation, else as `call_name`
        (its stable name in a job, if any). A post (`find`) carries the call's name in its
        metadata, to be found by it."""
        args = {k: v for k, v in kwargs.items() if v is not None}
        args.update(await self.token_args(where.workspace if where is not None else str(team)))
        pacer, key = pace or (self.pacer, str(args["channel"]))
        channel = channel_name(where) if where is not None else f"slack:{key}"
        calls = deliveries.current()

        async def make(name: str | None) -> Answer:
            named = {**args, "metadata": found.metadata(name)} if find and name else args
            return await self._attempts(method, call, pacer, key, channel, name, named)

        if calls is None or where is None:
            return await make(call_name)
        return await calls.call(channel, make, find)

    def _finder(self, where: ConversationRef) -> deliveries.Find:
        async def find(name: str, since: float) -> Answer | None:
            return await self._find_post(where, name, since)

        return find

    async def _find_post(self, where: ConversationRef, name: str, since: float) -> Answer | None:
        """The post `name` made since `since`, if Slack has it. Slack down or throttling
        raises `Unavailable`: the delivery waits and looks again, so nothing is posted twice
        or lost. A lookup Slack refuses for good (no history scope, a channel Baton cannot
        read) posts again: a message seen twice is better than one never seen."""
        channel = channel_name(where)
        try:
            token = await self.token_args(where.workspace)
            return await found.find_post(self.client, where, name, since, token)
        except SlackApiError as error:
            status, code = error.response.status_code, str(error.response.get("error"))
            failure = _classified(channel, "lookup", status, code)
            if isinstance(failure, Unavailable):
                raise failure from error
            log.warning("Slack refused the lookup (%s): %s is posted again", code, name)
            return None
        except NETWORK_ERRORS as error:
            raise Unavailable(channel, f"lookup: {type(error).__name__}") from error

    async def token_args(self, team: str) -> dict[str, Any]:
        """The `token` argument for a call to `team`: none with one workspace's token; a
        team that has not installed Baton is refused for good (nothing to post with)."""
        if self.token_of is None:
            return {}
        token = await self.token_of(team)
        if token is None:
            raise SlackRefused(f"slack:{team}", "authorize", "not_installed")
        return {"token": token}

    async def _attempts(
        self,
        method: str,
        call: Callable[..., Awaitable[AsyncSlackResponse]],
        pacer: ChannelPacer,
        key: str,
        channel: str,
        name: str | None,
        args: dict[str, Any],
    ) -> Answer:
        try:
            response = await take_turns(
                pacer,
                key,
                name,
                lambda: call(**args),
                throttled=_retry_after,
                channel=channel,
                what=f"Slack {method}",
            )
        except SlackApiError as error:
            code = str(error.response.get("error"))
            raise _classified(channel, method, error.response.status_code, code) from error
        except NETWORK_ERRORS as error:
            raise Unavailable(channel, f"{method}: {type(error).__name__}") from error
        return {"ts": response.get("ts")}


def channel_name(where: ConversationRef) -> str:
    """How a Slack channel is named in outages and logs."""
    return f"slack:{where.workspace}:{where.channel}"


def _classified(channel: str, method: str, status: int, code: str) -> Exception:
    """A Slack error as an outage (it will pass) or a refusal (it will not)."""
    if status >= 500 or code in TRANSIENT:
        return Unavailable(channel, f"{method}: HTTP {status} {code}")
    return SlackRefused(channel, method, code)


def _part_text(card: Card, part: int, parts: int) -> str:
    if part == 1:
        return fallback_text(card)
    return texts.SLACK_CONTINUED.format(title=card.title, part=part, parts=parts)


def _fallback(card: Card, reason: str) -> str:
    """The plain-text stand-in for a message Slack would not show, short enough to be."""
    text = texts.FALLBACK_MESSAGE.format(reason=reason, text=escape(card.text()))
    return text if len(text) <= FALLBACK_LIMIT else text[: FALLBACK_LIMIT - 1] + "…"


def _retry_after(error: BaseException) -> float | None:
    """The seconds Slack asked to wait (429 Retry-After), else None."""
    if not isinstance(error, SlackApiError) or error.response.status_code != 429:
        return None
    headers = {str(k).lower(): v for k, v in (error.response.headers or {}).items()}
    value = headers.get("retry-after", "1")
    try:
        return float(value[0] if isinstance(value, list) else value)
    except ValueError:
        return 1.0
