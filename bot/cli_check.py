"""`baton check`: validate the workspace and read every metric once, writing nothing."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import typer

from bot.cli import app, run_async
from bot.demo.seed import example_env
from config.settings import Settings
from config.workspace import load_workspaces
from handlers import texts
from orchestrator.connectors import Connectors
from orchestrator.errors import BatonError
from orchestrator.workspace.catalog import Workspace


@dataclass(frozen=True)
class Reading:
    """One row of the table."""

    connection: str
    metric: str
    value: str
    ok: bool
    seconds: float


async def read_all(workspace: Workspace, connectors: Connectors) -> list[Reading]:
    """Every metric once, and every connection without a metric opened once."""
    readings = []
    for name, metric in workspace.metrics.items():
        if metric.cases:  # computed from Baton's own case records, not read from a system
            readings.append(Reading("-", name, f"derived from {metric.cases} cases", True, 0.0))
            continue
        started = time.perf_counter()
        try:
            value = await connectors.get(metric.connection).measure(metric=metric)
            shown, ok = metric.show(value), True
        except BatonError as error:
            shown, ok = f"ERROR {error}", False
        except Exception as error:  # noqa: BLE001 - one row names it, never a traceback
            shown, ok = _unexpected(metric.connection, error), False
        readings.append(Reading(metric.connection, name, shown, ok, time.perf_counter() - started))
    measured = {m.connection for m in workspace.metrics.values()}
    for name, connection in workspace.connections.items():
        if name in measured or connection.kind == "chat":
            continue
        try:  # opening expands its secrets: a missing variable shows here, not at 3am
            connectors.get(name)
            readings.append(Reading(name, "-", "no metrics (secrets present)", True, 0.0))
        except BatonError as error:
            readings.append(Reading(name, "-", f"ERROR {error}", False, 0.0))
        except Exception as error:  # noqa: BLE001 - one row names it, never a traceback
            readings.append(Reading(name, "-", _unexpected(name, error), False, 0.0))
    return readings


def _unexpected(connection: str, error: Exception) -> str:
    """An error no connector anticipated (a URL from `${ENV_VAR}` the HTTP client cannot
    parse), as one line naming the connection."""
    detail = (str(error).splitlines() or [""])[0][:300]
    return texts.CHECK_UNEXPECTED.format(
        connection=connection, kind=type(error).__name__, detail=detail
    )


def table(readings: list[Reading]) -> list[str]:
    """The readings as aligned text lines."""
    wide = max([len("connection"), *(len(r.connection) for r in readings)])
    metric = max([len("metric"), *(len(r.metric) for r in readings)])
    lines = [f"  {'connection':<{wide}}  {'metric':<{metric}}  {'time':>7}  value"]
    for r in readings:
        lines.append(
            f"  {r.connection:<{wide}}  {r.metric:<{metric}}  {r.seconds:6.2f}s  {r.value}"
        )
    return lines


@app.command()
def check() -> None:
    """Validate the workspace file(s) and read every metric once; exit 1 on any error."""

    async def main() -> int:
        settings = Settings()
        files = load_workspaces(settings.workspace_file, settings.workspaces_dir)
        typer.echo(f"Workspace {files.default.name}: valid ({files.default_source})")
        for tenant, own in files.by_tenant.items():
            typer.echo(f"Workspace {own.name} of {tenant}: valid")
        typer.echo(f"LLM: {settings.llm}" if settings.llm else texts.CHECK_NO_LLM)
        env, seeded = example_env(settings, os.environ)
        if seeded:
            typer.echo(seeded)
        failures = 0
        for workspace in files.distinct():
            if files.by_tenant:
                typer.echo(f"{workspace.name}:")
            connectors = Connectors(workspace, env, read_only=True)
            try:
                readings = await read_all(workspace, connectors)
            finally:
                await connectors.close()
            for line in table(readings):
                typer.echo(line)
            failures += sum(1 for r in readings if not r.ok)
        return failures

    failures = run_async(main)
    if failures:
        typer.echo(f"{failures} error(s).", err=True)
    raise typer.Exit(1 if failures else 0)
