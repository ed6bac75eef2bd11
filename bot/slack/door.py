"""What a request to `POST /slack/events` must be before Bolt sees it.

Bolt parses a body before it verifies the signature, reads the payload's fields unguarded
(its error handler too, which then answers 500) and decodes the body by the charset the
sender names. So the door comes first: the signature over the raw bytes (401), then the body
read as Slack sends it (UTF-8, JSON no deeper than `MAX_DEPTH`), then each part of the
payload Bolt hands its listeners, then what Baton's own listener will translate (400).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_bolt.request.payload_utils import (
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)

from bot.inbound_json import MAX_DEPTH, Unreadable, check_value
from bot.slack import edit_modal, inbound
from bot.slack.inbound import Malformed

MAX_SKEW_S = 5 * 60
"""Slack's own bound on a request's age (replays of older requests are refused)."""
BOLT_READERS = (
    to_options,
    to_shortcut,
    to_action,
    to_view,
    to_command,
    to_event,
    to_message,
    to_step,
)
"""Every part of a payload Bolt reads to build its listeners' (and error handler's) arguments."""
READ_ERRORS = (LookupError, TypeError, AttributeError, ValueError)
"""What reading a field of a payload of the wrong shape raises."""


def signed(secret: str, body: bytes, headers: Mapping[str, str], now: float) -> bool:
    """Slack's v0 signature: HMAC-SHA256 of `v0:<timestamp>:<body>`, the timestamp recent."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    given = headers.get("X-Slack-Signature", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return False  # (a longer number is no time of ours, and may be too long to convert)
    if abs(now - int(stamp)) > MAX_SKEW_S:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    expected = ("v0=" + digest.hexdigest()).encode()
    return hmac.compare_digest(expected, given.encode("utf-8", "surrogateescape"))


def bolt_request(body: bytes, query: str, headers: Mapping[str, str]) -> AsyncBoltRequest:
    """The request as Bolt would read it, once it is known Bolt can: `Malformed` if not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    kind = headers.get("Content-Type", "").split(";")[0] or None
    payload = _payload(text, kind)
    try:
        request = AsyncBoltRequest(body=text, query=query, headers=dict(headers))
        for read in BOLT_READERS:
            read(payload)
    except READ_ERRORS as error:
        raise Malformed(f"{type(error).__name__}: {error}") from None
    inbound.check(payload)
    edit_modal.check(payload)
    return request


def _payload(text: str, kind: str | None) -> dict[str, Any]:
    """The payload, parsed by Bolt's own rules (JSON, a form, or a form's `payload` field)."""
    try:
        payload: Any = parse_body(text, kind)
        check_value(payload)
    except RecursionError:
        raise Malformed(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # the JSON decoder's errors, and `Unreadable`
        detail = str(error) if isinstance(error, Unreadable) else "not JSON"
        raise Malformed(detail) from None
    if not isinstance(payload, dict):
        raise Malformed(f"a payload must be an object, not {type(payload).__name__}")
    if "event" in payload and not isinstance(payload["event"], dict):
        raise Malformed("an event envelope's event must be an object")
    return payload
