"""A local OpenAI-compatible chat completions server (port 0), answering from a script."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Scripted:
    """One scripted answer: a status, a body, headers, or a hang."""

    status: int = 200
    body: dict[str, Any] | str = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


def completion(
    *, content: str | None = None, tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for i, c in enumerate(tool_calls)
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
    }


class OpenAiDouble:
    """Serves `POST /v1/chat/completions`, one scripted answer per request."""

    def __init__(self, responder: Callable[[dict[str, Any]], Scripted] | None = None) -> None:
        self.script: list[Scripted] = []
        self.responder = responder
        """Computes the answer from the request when the script is empty."""
        self.requests: list[dict[str, Any]] = []
        self.released = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        if self.script or self.responder is None:
            answer = self.script.pop(0)
        else:
            answer = self.responder(self.requests[-1])
        if answer.hang:
            await self.released.wait()  # until the test ends; the client must time out
        body = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
        return web.Response(
            status=answer.status,
            text=body,
            headers=answer.headers,
            content_type="application/json",
        )

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            self.released.set()
            await runner.cleanup()
