"""A local double of Slack's Web API: answers and records what Baton calls, on port 0.

It speaks the real protocol (form or JSON bodies, `{"ok": ...}` answers, the two-step file
upload through a URL it hands out) and can fail the next calls with 500 or 429 + Retry-After.
It plays Slack's OAuth v2 install: `grant(team)` is the code Slack's consent page would
hand back, and `oauth.v2.access` exchanges it (with the app's client id and secret) for that
team's bot token, which `auth.test` then answers for. It answers the assistant container's
calls (`assistant.threads.*`). It also plays Slack's Socket Mode: `apps.connections.open`
hands out a ws:// URL on the same server, which greets with `hello`, sends envelopes and
records the client's acknowledgements.
Posts keep their `metadata`, shown by conversations.history and conversations.replies when
asked for (`include_all_metadata`); `hold` makes a method record its call and then keep its
answer back (a worker can be killed after Slack took a post, before it heard back).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

Answer = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outage:
    status: int
    remaining: int
    retry_after: int = 1
    method: str | None = None
    """Only this method fails; None: every method but auth.test."""
    error: str = "internal_error"
    """What the answer's `error` says (with status 200: a refusal for good)."""


MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
BUTTON_TEXT = 75
HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
BLOCKS_CHARS = 13_000
"""Slack answers `msg_blocks_too_long` past about 13,000 characters of blocks (undocumented)."""
TEXT_CHARS = 40_000
MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")
VIEW_METHODS = ("views.open", "views.publish")
VIEW_TITLE = 24
"""Characters of a modal's title, submit and close text at most."""
VIEW_BLOCKS = 100
INPUT_TEXT = 3000


@dataclass
class SlackApiDouble:
    """Start with `await double.start()`; `base_url` is what SLACK_API_URL should be."""

    team_id: str = "T1"
    client_id: str = "1111.2222"
    client_secret: str = "double-client-secret"
    calls: list[Call] = field(default_factory=list)
    teams: dict[str, str] = field(default_factory=dict)
    """Bot token -> the team it was issued to by an install."""
    codes: dict[str, str] = field(default_factory=dict)
    """Install codes not yet exchanged -> their team."""
    uploads: dict[str, bytes] = field(default_factory=dict)
    outage: Outage | None = None
    refused: int = 0
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0
    held: set[str] = field(default_factory=set)
    """Methods whose answers are kept back, after their calls are recorded, until `release`."""
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self.answers: dict[str, Answer] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._posted,
            "chat.update": lambda p: {"channel": p["channel"], "ts": p["ts"]},
            "chat.postEphemeral": lambda p: {"message_ts": self._next_ts()},
            "views.open": self._view,
            "views.publish": self._view,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "apps.connections.open": self._connections_open,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "assistant.threads.setStatus": self._assistant_thread,
            "assistant.threads.setSuggestedPrompts": self._assistant_thread,
            "assistant.threads.setTitle": self._assistant_thread,
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/link/", self._socket)
        app.on_shutdown.append(self._close_sockets)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def send_envelope(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """Send one Socket Mode envelope on the newest connection, as Slack does; its id."""
        envelope_id = f"env-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        await self.sockets[-1].send_json(envelope)
        return envelope_id

    def fail_next(
        self, status: int, count: int, retry_after: int = 1, method: str | None = None
    ) -> None:
        """Answer the next `count` calls (other than auth.test; or only `method`) with `status`."""
        self.outage = Outage(status, count, retry_after, method)

    def refuse_next(self, error: str, count: int, method: str | None = None) -> None:
        """Refuse the next `count` calls for good, as Slack does: HTTP 200, ok false, `error`."""
        self.outage = Outage(200, count, method=method, error=error)

    def down(self, status: int = 500) -> None:
        """Fail every call (but auth.test) with `status` until `up()`."""
        self.outage = Outage(status, 10**9)

    def up(self) -> None:
        self.outage = None

    def hold(self, method: str) -> None:
        """Record `method`'s calls as made (a post is in the channel) but answer none of them
        until `release()`."""
        self.held.add(method)
        self._released.clear()

    def release(self) -> None:
        self.held.clear()
        self._released.set()

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages, threads' included, oldest first, as Slack keeps them."""
        return [
            {"ts": c.answer["ts"], **c.params}
            for c in self.calls
            if c.method == "chat.postMessage" and c.params.get("channel") == channel
        ]

    def grant(self, team: str) -> str:
        """The code Slack's consent page hands back after `team` approves the install."""
        code = f"code-{team}-{next(self._ids)}"
        self.codes[code] = team
        return code

    def called(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def buttons(self, action: str) -> list[tuple[str, str, str | None]]:
        """(value, ts, thread_ts) of `action` buttons on messages as they are now."""
        current: dict[str, tuple[list[Any], str | None]] = {}
        for call in self.calls:
            if call.method == "chat.postMessage":
                current[call.answer["ts"]] = (
                    call.params.get("blocks", []),
                    call.params.get("thread_ts"),
                )
            elif call.method == "chat.update" and call.params["ts"] in current:
                current[call.params["ts"]] = (
                    call.params.get("blocks", []),
                    current[call.params["ts"]][1],
                )
        found = []
        for ts, (blocks, thread) in current.items():
            for block in blocks:
                for element in block.get("elements", []) if block["type"] == "actions" else []:
                    if element["action_id"] == f"baton_{action}":
                        found.append((element["value"], ts, thread))
        return found

    def texts(self, method: str = "chat.postMessage") -> list[str]:
        return [str(p.get("text", "")) for p in self.called(method)]

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if method == "oauth.v2.access":
            return self._oauth_access(request, params)
        # Slack takes the token as a bearer header or as a `token` argument.
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = token or str(params.pop("token", ""))
        if method == "auth.test" and token in self.teams:
            answer = {"ok": True, **self._auth_test(params), "team_id": self.teams[token]}
            self.calls.append(Call(method, params, token, answer))
            return web.json_response(answer)
        if self._failing(method) and self.outage is not None:
            self.outage.remaining -= 1
            self.refused += 1
            return self._failure(self.outage)
        refusal = _refusal(params) if method in MESSAGE_METHODS else None
        refusal = _view_refusal(params) if method in VIEW_METHODS else refusal
        if refusal is not None:
            self.refused += 1
            return web.json_response({"ok": False, "error": refusal})
        respond = self.answers.get(method, _nothing)
        answer = {"ok": True, **respond(params)}
        self.calls.append(Call(method, params, token, answer))
        if method in self.held:
            await self._released.wait()
        return web.json_response(answer)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        hello = {
            "type": "hello",
            "num_connections": len(self.sockets) + 1,
            "connection_info": {"app_id": "A1"},
            "debug_info": {"host": "double", "approximate_connection_time": 18060},
        }
        await socket.send_json(hello)
        self.sockets.append(socket)
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                received = json.loads(message.data)
                if isinstance(received, dict) and "envelope_id" in received:
                    self.acks.append(received)
        self.sockets.remove(socket)
        return socket

    async def _close_sockets(self, app: web.Application) -> None:
        for socket in list(self.sockets):
            await socket.close()

    def _failing(self, method: str) -> bool:
        outage = self.outage
        if method == "auth.test" or outage is None or outage.remaining <= 0:
            return False
        return outage.method in (None, method)

    def _failure(self, outage: Outage) -> web.Response:
        if outage.status == 429:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(outage.retry_after)},
            )
        return web.json_response({"ok": False, "error": outage.error}, status=outage.status)

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            part = next(iter(form.values()))
            data = part.file.read() if hasattr(part, "file") else str(part).encode()
        else:
            data = await request.read()
        self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}")

    def _next_ts(self) -> str:
        """Seconds now, as Slack's are, so `oldest` means what it says; unique and rising."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://double.slack.com/",
            "team": "Double",
            "user": "baton",
            "team_id": self.team_id,
            "user_id": "UBATON",
            "bot_id": "BBATON",
        }

    def _oauth_access(self, request: web.Request, params: dict[str, Any]) -> web.Response:
        """Exchange an install code for its team's bot token, as Slack does: the app's
        credentials (HTTP Basic or form fields) and a code used at most once."""
        credentials = (params.get("client_id"), params.get("client_secret"))
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            pair = base64.b64decode(basic.removeprefix("Basic ")).decode()
            credentials = tuple(pair.split(":", 1))  # type: ignore[assignment]
        if credentials != (self.client_id, self.client_secret):
            return web.json_response({"ok": False, "error": "invalid_client_id"})
        team = self.codes.pop(str(params.get("code")), None)
        if team is None:
            return web.json_response({"ok": False, "error": "invalid_code"})
        token = f"xoxb-{team}-{next(self._ids)}"
        self.teams[token] = team
        answer = {
            "ok": True,
            "app_id": "A1",
            "authed_user": {"id": f"U{team}ADMIN"},
            "scope": "chat:write,commands",
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": f"U{team}BATON",
            "team": {"id": team, "name": f"Team {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        self.calls.append(Call("oauth.v2.access", params, "", answer))
        return web.json_response(answer)

    def _assistant_thread(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel_id") or not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        return {}

    def _posted(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        return {"channel": params["channel"], "ts": ts, "message": {"ts": ts, **params}}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        """The channel's messages (not thread replies) after `oldest`, newest first."""
        found = [
            m for m in self.messages(params["channel"]) if m.get("thread_ts") in (None, m["ts"])
        ]
        return _page(list(reversed(found)), params)

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread's parent and replies after `oldest`, oldest first."""
        thread = params["ts"]
        found = [
            m
            for m in self.messages(params["channel"])
            if m["ts"] == thread or m.get("thread_ts") == thread
        ]
        return _page(found, params)

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"view": {"id": f"V{next(self._ids)}", **_as_dict(params.get("view"))}}

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket=t{next(self._ids)}&app_id=A1"}

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids)}"
        upload_url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
        return {"upload_url": upload_url, "file_id": file_id}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = _as_list(params.get("files"))
        return {"files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}


def _page(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """One page of `messages` newer than `oldest`, `limit` long from `cursor`, with their
    metadata only when `include_all_metadata` is true, as Slack pages them."""
    oldest = float(params.get("oldest") or 0)
    shown = [_shown(m, params) for m in messages if float(m["ts"]) > oldest]
    start, limit = int(params.get("cursor") or 0), int(params.get("limit") or 100)
    more = start + limit < len(shown)
    return {
        "messages": shown[start : start + limit],
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def _shown(message: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    fields = ("ts", "text", "thread_ts", "blocks")
    shown = {"type": "message", **{k: message[k] for k in fields if k in message}}
    if str(params.get("include_all_metadata", "")).lower() in ("1", "true") and message.get(
        "metadata"
    ):
        shown["metadata"] = _as_dict(message["metadata"])
    return shown


def _nothing(params: dict[str, Any]) -> dict[str, Any]:
    return {}


def _refusal(params: dict[str, Any]) -> str | None:
    """What Slack refuses a message for, checked as Slack checks it (its documented limits,
    and the undocumented total), or None when it would be posted."""
    blocks = _as_list(params.get("blocks"))
    text = str(params.get("text") or "")
    if not blocks and not text:
        return "no_text"
    if len(text) > TEXT_CHARS:
        return "msg_too_long"
    if len(blocks) > MAX_BLOCKS or not all(_block_ok(block) for block in blocks):
        return "invalid_blocks"
    if len(json.dumps(blocks)) > BLOCKS_CHARS:
        return "msg_blocks_too_long"
    return None


def _view_refusal(params: dict[str, Any]) -> str | None:
    """What Slack refuses a view for (views.open, views.publish), as its documented limits
    say: a modal's title, submit and close texts, the number of blocks, the blocks
    themselves, an input's initial text longer than it may hold."""
    view = _as_dict(params.get("view"))
    blocks = view.get("blocks") or []
    if view.get("type") == "modal" and not 0 < len(_text_of(view.get("title"))) <= VIEW_TITLE:
        return "invalid_arguments"
    if any(len(_text_of(view.get(k))) > VIEW_TITLE for k in ("submit", "close")):
        return "invalid_arguments"
    if len(blocks) > VIEW_BLOCKS or not all(_block_ok(block) for block in blocks):
        return "invalid_arguments"
    for block in blocks:
        element = block.get("element") or {}
        limit = min(int(element.get("max_length", INPUT_TEXT)), INPUT_TEXT)
        if len(str(element.get("initial_value", ""))) > limit:
            return "invalid_arguments"
    return None


def _block_ok(block: dict[str, Any]) -> bool:
    kind = block.get("type")
    if kind == "section":
        fields = block.get("fields") or []
        text = _text_of(block.get("text"))
        return (
            len(text) <= SECTION_TEXT
            and len(fields) <= MAX_FIELDS
            and all(len(_text_of(f)) <= FIELD_TEXT for f in fields)
            and bool(text or fields)
        )
    if kind == "header":
        return 0 < len(_text_of(block.get("text"))) <= HEADER_TEXT
    if kind == "context":
        elements = block.get("elements") or []
        return 0 < len(elements) <= MAX_CONTEXT_ELEMENTS
    if kind == "actions":
        elements = block.get("elements") or []
        return 0 < len(elements) <= 25 and all(
            0 < len(_text_of(e.get("text"))) <= BUTTON_TEXT for e in elements
        )
    return kind in ("divider", "image", "input", "rich_text")


def _text_of(value: Any) -> str:
    return str(value.get("text", "")) if isinstance(value, dict) else ""


async def _params(request: web.Request) -> dict[str, Any]:
    """Slack takes arguments in the query string, a form body or a JSON body."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    else:
        params.update({k: str(v) for k, v in (await request.post()).items()})
    return params


def _as_dict(value: Any) -> dict[str, Any]:
    parsed = json.loads(value) if isinstance(value, str) else value
    return dict(parsed) if isinstance(parsed, dict) else {}


def _as_list(value: Any) -> list[dict[str, Any]]:
    parsed = json.loads(value) if isinstance(value, str) else value
    return list(parsed) if isinstance(parsed, list) else []
