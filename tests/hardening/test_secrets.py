"""Secrets never leave: flows run with every kind of secret configured, then everything the
run wrote is scanned for them (logs, files, chat, audit, exceptions, Redis, manifests).

The systems Baton talks to here are hostile: they echo back whatever they were sent
(headers, query strings, bodies) in their error answers, as many real services do.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from bot import cli_teams, cli_web  # noqa: F401  (register `baton manifest slack|teams`)
from bot.bootstrap import App, bootstrap
from bot.cli import PLATFORMS
from bot.cli import app as cli
from bot.cli_web import surfaces
from bot.demo.simulation import Business
from bot.logging import configure_logging
from bot.web import build_web_app
from config.settings import DEMO_WORKSPACE, Settings
from orchestrator.connectors.webhook import signature
from orchestrator.runtime.clock import ManualClock
from orchestrator.store.audit import export
from orchestrator.store.keys import Keys
from tests.conftest import START
from tests.doubles.slack_api import SlackApiDouble
from tests.fakes import RecordingGateway
from tests.slack.conftest import block_action, command_body, interaction_body, sign

RUN = uuid.uuid4().hex[:8]
SECRETS = {
    "SLACK_SIGNING_SECRET": f"slack-signing-{RUN}-secret",
    "SLACK_BOT_TOKEN": f"xoxb-bot-{RUN}-token",
    "MICROSOFT_APP_PASSWORD": f"teams-app-{RUN}-password",
    "BILLING_TOKEN": f"billing-bearer-{RUN}-token",
    "BILLING_KEY": f"billing-key-{RUN}-query",
    "SMTP_PASSWORD": f"smtp-{RUN}-password",
    "OUTBOUND_HOOK_SECRET": f"outbound-hook-{RUN}-secret",
    "BATON_TICKETS_HOOK_SECRET": f"tickets-hook-{RUN}-secret",
    "PAGER_KEY": f"pager-url-{RUN}-key",
    "PAGERDUTY_ROUTING_KEY": f"pd-routing-{RUN}-key",
    "BATON_AUDIT_KEY": f"audit-seal-{RUN}-key-that-redis-never-sees",
}
APP_ID = "00000000-0000-4000-8000-000000000001"


class Echo:
    """A hostile service: answers with everything it received; `/ok` answers a number."""

    def __init__(self) -> None:
        self.failing = False
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if request.path == "/api/mrr" and not self.failing:
            return web.json_response({"mrr": 4000})
        told = {"url": str(request.url), "headers": dict(request.headers)}
        told["body"] = (await request.read()).decode("utf-8", "replace")
        return web.Response(status=500, text=json.dumps(told))

    async def start(self) -> str:
        application = web.Application()
        application.router.add_route("*", "/{tail:.*}", self.handle)
        # Its own access log is the hostile service's, not Baton's: kept out of the scan.
        self.runner = web.AppRunner(application, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}"


def _workspace(tmp_path: Path, echo: str) -> Path:
    raw: dict[str, Any] = yaml.safe_load(DEMO_WORKSPACE.read_text(encoding="utf-8"))
    local = ["127.0.0.1/32"]
    raw["connections"]["billing"] = {
        "kind": "http",
        "url": echo + "/api/",
        "auth": {"bearer": "${BILLING_TOKEN}"},
        "headers": {"X-Billing-Key": "${BILLING_KEY}"},
        "allow_private": local,
    }
    raw["connections"]["mail"] = {
        "kind": "smtp",
        "url": "smtp://127.0.0.1:9",
        "username": "baton",
        "password": "${SMTP_PASSWORD}",
    }
    raw["connections"]["outbound"] = {
        "kind": "webhook",
        "url": echo + "/hook",
        "secret": "${OUTBOUND_HOOK_SECRET}",
        "allow_private": local,
    }
    raw["metrics"]["billing_mrr"] = {
        "description": "Monthly recurring revenue from billing",
        "connection": "billing",
        "url": "mrr",
        "query": "$.mrr",
        "unit": "currency",
        "direction": "increase",
        "synonyms": ["mrr", "billing mrr", "recurring revenue"],
    }
    path = tmp_path / "workspace.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


class Run:
    def __init__(
        self,
        app: App,
        client: TestClient[web.Request, web.Application],
        slack: SlackApiDouble,
        echo: Echo,
        log: io.StringIO,
    ) -> None:
        self.app, self.client, self.slack, self.echo, self.log = app, client, slack, echo, log
        self.n = 0

    async def slack_post(self, body: str, kind: str) -> int:
        headers = {**sign(body, secret=SECRETS["SLACK_SIGNING_SECRET"]), "Content-Type": kind}
        response = await self.client.post("/slack/events", data=body, headers=headers)
        await self.settle()
        return response.status

    async def settle(self) -> None:
        """Run what is due, letting the paced channel's later turns come (seconds of the
        manual clock: deferred posts wait for their turn on it)."""
        clock = self.app.runtime.ctx.clock
        assert isinstance(clock, ManualClock)
        for _ in range(30):
            await self.app.runtime.drain()
            clock.advance(timedelta(seconds=1))
        await self.app.runtime.drain()

    async def command(self, text: str, user: str) -> None:
        self.n += 1
        assert await self.slack_post(*command_body(text, user=user, trigger=f"t{self.n}")) == 200

    async def click(self, action: str, user: str) -> None:
        self.n += 1
        value, ts, thread = self.slack.buttons(action)[-1]
        payload = block_action(
            action, value, user=user, channel="C1", ts=ts, thread=thread, n=self.n
        )
        assert await self.slack_post(*interaction_body(payload)) == 200


@pytest.fixture
async def run(redis_url: str, keys: Keys, business: Business, tmp_path: Path) -> AsyncIterator[Run]:
    echo, slack = Echo(), SlackApiDouble()
    await slack.start()
    base = await echo.start()
    env = {**SECRETS, "BATON_DEMO_DB": str(business.path)}
    settings = Settings(
        redis_url=redis_url,
        key_prefix=keys.prefix,
        workspace_file=_workspace(tmp_path, base),
        state_dir=tmp_path / "state",
        slack_bot_token=SECRETS["SLACK_BOT_TOKEN"],
        slack_signing_secret=SECRETS["SLACK_SIGNING_SECRET"],
        slack_api_url=slack.base_url,
        microsoft_app_id=APP_ID,
        microsoft_app_password=SECRETS["MICROSOFT_APP_PASSWORD"],
        pager_webhook_url=f"{base}/pager?key={SECRETS['PAGER_KEY']}",
        pagerduty_routing_key=SECRETS["PAGERDUTY_ROUTING_KEY"],
        audit_key=SECRETS["BATON_AUDIT_KEY"],
        pagerduty_events_url=f"{base}/pd",
        pager_allow_private="127.0.0.1/32",
        log_level="DEBUG",
    )
    # Logging as a process configures it (JSON lines, scrubbed), into a buffer to scan.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    log = io.StringIO()
    configure_logging(settings, env=env, stream=log)
    gateways = {"test": RecordingGateway()}
    app = await bootstrap(
        settings, gateways, platforms=PLATFORMS, clock=ManualClock(START), env=env
    )
    application, _ = await build_web_app(app, surfaces(app))
    client = TestClient(TestServer(application))
    await client.start_server()
    try:
        yield Run(app, client, slack, echo, log)
    finally:
        root.handlers, root.level = handlers, level
        structlog.reset_defaults()
        await client.close()
        await app.close()
        await slack.stop()
        assert echo.runner is not None
        await echo.runner.cleanup()


async def _redis_text(run: Run) -> str:
    """Every value under the run's prefix, whatever its type, as text."""
    redis: Any = run.app.redis
    parts: list[Any] = []
    async for key in redis.scan_iter(match=run.app.runtime.ctx.keys.prefix + ":*", count=1000):
        kind = (await redis.type(key)).decode()
        if kind == "string":
            parts.append(await redis.get(key))
        elif kind == "hash":
            parts += [*(await redis.hgetall(key)).values()]
        elif kind == "list":
            parts += await redis.lrange(key, 0, -1)
        elif kind in ("set", "zset"):
            parts += (
                list(await redis.smembers(key)) if kind == "set" else await redis.zrange(key, 0, -1)
            )
        elif kind == "stream":
            parts += [repr(fields) for _, fields in await redis.xrange(key)]
        parts.append(key)
    return "\n".join(
        p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in parts
    )


def _files_text(root: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file()
    )


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


async def test_no_secret_is_written_anywhere(
    run: Run,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The demo story through signed Slack requests: state, confirm, approve.
    await run.command("Cut monthly churn by 2 points by end of Q1", "olivia")
    await run.click("confirm", "olivia")
    await run.click("approve", "alice")
    # An outcome on the hostile billing API; then the API fails at every tick (an incident,
    # pages to pagers that fail too, retries and dead letters).
    await run.command("Grow billing mrr to 5000 by end of Q1", "olivia")
    await run.click("confirm", "olivia")
    run.echo.failing = True
    for _ in range(5):
        run.app.runtime.ctx.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        await run.app.runtime.drain()
    # A case event signed with the hook secret; an unsigned Teams activity.
    body = json.dumps({"ticket_id": "T-1", "subject": "Cannot log in"}).encode()
    sig = signature(SECRETS["BATON_TICKETS_HOOK_SECRET"], body)
    await run.client.post("/hooks/support_tickets", data=body, headers={"X-Baton-Signature": sig})
    await run.client.post("/api/messages", json={"type": "message", "text": "hi"})
    await run.app.runtime.drain()
    assert run.slack.texts(), "the flows reached Slack"
    incidents = [t for t in run.slack.texts() if "billing" in t.lower()]
    assert incidents, "the billing failure was reported in chat"

    chat = json.dumps([c.params for c in run.slack.calls], default=str)
    audit = await export(run.app.runtime.ctx.store, "T1", "json")
    manifests = [
        CliRunner().invoke(cli, ["manifest", "slack", "--base-url", "https://baton.example"]),
        CliRunner().invoke(
            cli,
            [
                "manifest",
                "teams",
                "--app-id",
                APP_ID,
                "--base-url",
                "https://baton.example",
                "--out",
                str(tmp_path / "teams.zip"),
            ],
        ),
    ]
    assert all(m.exit_code == 0 for m in manifests), [m.output for m in manifests]
    captured = capsys.readouterr()
    written = {
        "log lines": run.log.getvalue(),
        "log records": caplog.text,
        "stdout and stderr": captured.out + captured.err,
        "files": _files_text(tmp_path),
        "chat": chat,
        "audit": audit,
        "redis": await _redis_text(run),
        "manifests": "\n".join(m.output for m in manifests),
    }
    assert written["log lines"] and written["redis"] and written["audit"]
    assert {where: _leaks(text) for where, text in written.items() if _leaks(text)} == {}
