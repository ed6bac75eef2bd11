"""A local Ollama server (port 0): `POST /api/chat` in Ollama's own wire format, streamed
as newline-delimited JSON like the real one, answering from a script."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web


def chat_answer(
    *, content: str = "", tool_calls: list[dict[str, Any]] | None = None, model: str = "llama3.1"
) -> dict[str, Any]:
    """One finished `/api/chat` answer; tool calls carry their arguments as objects."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"function": {"name": c["name"], "arguments": c["arguments"]}} for c in tool_calls
        ]
    return {
        "model": model,
        "created_at": "2027-01-04T09:00:00Z",
        "message": message,
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 70,
        "eval_count": 12,
    }


class OllamaDouble:
    """Serves `POST /api/chat`, one scripted answer per request."""

    def __init__(self) -> None:
        self.script: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        answer = self.script.pop(0)
        if not self.requests[-1].get("stream", True):
            return web.json_response(answer)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        await response.write((json.dumps(answer) + "\n").encode())
        await response.write_eof()
        return response

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/api/chat", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()
