"""Baton's own posts, found again by the delivery call that made them.

Slack's chat.postMessage takes no idempotency key. So a post made inside a delivery carries
its call's stable name in the message's metadata (`event_type` `baton_delivery`, payload
`{"id": name}`), and a post whose answer Baton never recorded (its worker was killed after
Slack took it) is looked for by that name among the messages posted since the attempt:
conversations.history for a channel, conversations.replies for a thread, with
`include_all_metadata`, before it is made again.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from orchestrator.models import ConversationRef

DELIVERY_EVENT = "baton_delivery"
"""The metadata event type of Baton's posts; its payload's `id` is the call's name."""
LOOKUP_PAGE = 200
LOOKUP_PAGES = 5
"""How far a post is looked for: the newest 1,000 messages since the attempt."""
LOOKUP_SKEW_S = 300.0
"""Looked for from this long before the attempt, in case Slack's clock is behind ours."""


def metadata(name: str) -> dict[str, Any]:
    """What a post made by the call `name` carries, to be found by it."""
    return {"event_type": DELIVERY_EVENT, "event_payload": {"id": name}}


async def find_post(
    client: AsyncWebClient,
    where: ConversationRef,
    name: str,
    since: float,
    token: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """`{"ts": ...}` of the post the call `name` made in `where` since `since` (epoch
    seconds), or None when it is not among the messages looked at; asked with `token`
    (the workspace's own, when Baton is installed in many). Slack's errors raise."""
    method = "conversations.replies" if where.thread else "conversations.history"
    args: dict[str, Any] = {
        **(token or {}),
        "channel": where.channel,
        "oldest": f"{max(since - LOOKUP_SKEW_S, 0.0):.6f}",
        "include_all_metadata": "true",
        "limit": LOOKUP_PAGE,
    }
    if where.thread:
        args["ts"] = where.thread
    for _ in range(LOOKUP_PAGES):
        response = await client.api_call(method, http_verb="GET", params=args)
        page = response.data if isinstance(response.data, dict) else {}
        ts = _named_ts(page.get("messages") or [], name)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if ts is not None or not page.get("has_more") or not cursor:
            return {"ts": ts} if ts is not None else None
        args["cursor"] = cursor
    return None


def _named_ts(messages: list[dict[str, Any]], name: str) -> str | None:
    """The ts of the message whose metadata names the call `name`, if one does."""
    for message in messages:
        found = message.get("metadata") or {}
        payload = found.get("event_payload") or {}
        if found.get("event_type") == DELIVERY_EVENT and payload.get("id") == name:
            return str(message["ts"])
    return None
