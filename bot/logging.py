"""Structured logs for every process: structlog renders each record (the standard library's
included, which is what the core uses) as one JSON line, with the ids of the job or request
being handled, and with every configured secret scrubbed from the line."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from config.settings import Settings
from config.workspace import SUFFIXES
from orchestrator.connectors.secrecy import REDACTED
from orchestrator.runtime import logcontext
from orchestrator.workspace.secrets import references

MIN_SECRET_CHARS = 4
"""Shorter values would scrub ordinary words out of every line."""
SLACK_TOKEN = re.compile(r"xox[abeoprs]-[A-Za-z0-9-]{6,}")
"""Slack tokens, also those of installed teams (kept in Redis, not in the settings)."""


def connector_secrets(workspace_file: Path, env: Mapping[str, str]) -> list[str]:
    """Values of the `${ENV_VAR}` references in the workspace file (connection secrets)."""
    try:
        text = workspace_file.read_text(encoding="utf-8")
    except OSError:
        return []
    return [env[name] for name in references(text) if env.get(name)]


def all_secrets(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Everything configured that must never be logged."""
    files = [settings.workspace_file]
    if settings.workspaces_dir is not None and settings.workspaces_dir.is_dir():
        files += sorted(p for p in settings.workspaces_dir.iterdir() if p.suffix in SUFFIXES)
    values = [*settings.secrets(), *(s for f in files for s in connector_secrets(f, env))]
    urls = (settings.redis_url, settings.llm_base_url, settings.pager_webhook_url)
    for url in (*urls, settings.history_url):
        if url and urlsplit(url).password:
            values.append(str(urlsplit(url).password))
    if settings.pager_webhook_url:
        values.append(settings.pager_webhook_url)  # webhook URLs are bearer tokens
    return values


class Scrubber:
    """A processor that replaces each secret by `***` in every value, then in the line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
        self.secrets = sorted(unique, key=len, reverse=True)  # longest first: no partial leaks

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return SLACK_TOKEN.sub(REDACTED, value)

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        return {key: self._value(value) for key, value in event.items()}

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.text(str(value))

    def rendered(self, logger: WrappedLogger, method: str, line: Any) -> Any:
        """After rendering: the line as written (catches secrets split by escaping)."""
        return self.text(line) if isinstance(line, str) else line


def add_log_context(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """The ids of the job or request being handled (see `orchestrator.runtime.logcontext`)."""
    for key, value in logcontext.current().items():
        event.setdefault(key, value)
    return event


def configure_logging(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
) -> Scrubber:
    """Send every log record through structlog to `stream` (stderr) as scrubbed JSON."""
    scrubber = Scrubber(all_secrets(settings, dict(os.environ) if env is None else env))
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_log_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            scrubber,
            renderer,
            scrubber.rendered,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level)
    # httpx logs every request's full URL at INFO: a query string may carry a key. The
    # scheduler logs two INFO lines per job run (170,000 a day per clock): only its warnings
    # (a missed or failed run) say something an operator needs.
    for chatty in ("httpx", "apscheduler"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return scrubber
