"""Bot Framework activities as Teams sends them, for tests."""

from __future__ import annotations

import itertools
from typing import Any

TENANT = "tenant-1"
CHANNEL_ID = "19:baton-channel@thread.tacv2"
BOT = {"id": "28:baton-bot", "name": "Baton"}
_ids = itertools.count(1)


def _base(user: str, service_url: str, conversation: str, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "id": f"act-{next(_ids)}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": f"29:{user}", "name": user, "aadObjectId": user},
        "recipient": BOT,
        "conversation": {
            "id": conversation,
            "tenantId": TENANT,
            "conversationType": "channel",
            "isGroup": True,
        },
        "channelData": {"tenant": {"id": TENANT}},
    }


def message(
    user: str, text: str, service_url: str = "http://127.0.0.1:9/", *, mention: bool = False
) -> dict[str, Any]:
    activity = _base(user, service_url, CHANNEL_ID, "message")
    activity["text"] = f"<at>Baton</at> {text}" if mention else text
    if mention:
        activity["entities"] = [
            {"type": "mention", "text": "<at>Baton</at>", "mentioned": BOT},
        ]
    return activity


def execute(
    user: str,
    verb: str,
    value: str,
    service_url: str = "http://127.0.0.1:9/",
    reason: str | None = None,
) -> dict[str, Any]:
    """An `adaptiveCard/action` invoke, as a click on an Action.Execute button."""
    activity = _base(user, service_url, CHANNEL_ID, "invoke")
    data: dict[str, Any] = {"baton": verb, "value": value}
    if reason is not None:
        data["reason"] = reason
    activity["name"] = "adaptiveCard/action"
    activity["value"] = {
        "action": {"type": "Action.Execute", "verb": verb, "data": data},
        "trigger": "manual",
    }
    return activity


def submit(
    user: str, verb: str, value: str, service_url: str = "http://127.0.0.1:9/"
) -> dict[str, Any]:
    """A message carrying Action.Submit data, as older clients send it."""
    activity = _base(user, service_url, CHANNEL_ID, "message")
    activity["value"] = {"baton": verb, "value": value}
    return activity


def installation(user: str, service_url: str) -> dict[str, Any]:
    activity = _base(user, service_url, CHANNEL_ID, "installationUpdate")
    activity["action"] = "add"
    return activity
