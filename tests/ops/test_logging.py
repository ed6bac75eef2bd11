"""Structured logs: JSON lines with the ids of the work, and configured secrets never in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from bot.logging import configure_logging, connector_secrets
from config.settings import Settings
from handlers.cards import Card
from orchestrator.errors import BatonError
from orchestrator.models import ConversationRef, MessageRef
from tests.conftest import Harness

TOKEN = "xoxb-4242-SECRET-bot-token"
PAGER_PASSWORD = "hunter2-pager-pass"
DB_PASSWORD = "s3cret-db-password"
STATEMENT = "Cut monthly churn by 2 points by end of Q1"


@pytest.fixture
def captured(tmp_path: Path) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "connections:\n  crm: {url: 'postgresql://baton:${CRM_PASSWORD}@db/crm'}\n"
    )
    settings = Settings(
        slack_bot_token=TOKEN,
        pager_webhook_url=f"https://baton:{PAGER_PASSWORD}@pager.example/hook",
        workspace_file=workspace,
        log_level="INFO",
    )
    stream = io.StringIO()
    configure_logging(settings, env={"CRM_PASSWORD": DB_PASSWORD}, stream=stream)
    yield stream
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def test_connector_secrets_are_the_referenced_variables(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("a: ${ONE}\nb: ${TWO:-fallback}\nc: ${MISSING}\n")
    assert connector_secrets(path, {"ONE": "first-secret", "TWO": "x"}) == ["first-secret"]


async def test_secrets_never_reach_the_log(
    harness: Harness, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_send(*, conversation: ConversationRef, card: Card) -> MessageRef:
        raise BatonError(
            f"POST https://hooks.example/services/{TOKEN} refused (Authorization: Bearer "
            f"{TOKEN}); db postgresql://baton:{DB_PASSWORD}@db/crm; pager "
            f"https://baton:{PAGER_PASSWORD}@pager.example/hook"
        )

    monkeypatch.setattr(harness.gateway, "send", broken_send)
    await harness.say("olivia", STATEMENT)  # every notice fails: retried, then dead-lettered
    for _ in range(12):  # retries back off on the (manual) clock
        harness.clock.advance(timedelta(minutes=10))
        await harness.runtime.drain()
    try:
        raise RuntimeError(f"connect failed with {DB_PASSWORD}")
    except RuntimeError:
        logging.getLogger("baton.test").exception("while reading %s", TOKEN)
    structlog.get_logger("baton.test").error("call failed", url=f"https://x/{TOKEN}")
    text = captured.getvalue()
    assert "dead-lettered" in text and "Traceback" in text
    for secret in (TOKEN, DB_PASSWORD, PAGER_PASSWORD):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert any("***" in line["event"] for line in lines)
    failed = [line for line in lines if "failed (attempt" in line["event"]]
    assert failed and all(line["job"] == "notify" and line["job_id"] for line in failed)
    assert {line["level"] for line in lines} >= {"warning", "error"}
