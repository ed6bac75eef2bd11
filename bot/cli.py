"""The `baton` command."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, TextIO, TypeVar

import typer

from bot.bootstrap import App, bootstrap
from bot.console import ConsoleGateway, run_console
from bot.demo.seed import example_env
from bot.logging import configure_logging
from config.settings import Settings
from handlers import effects, render, texts
from orchestrator.audit import export, verify
from orchestrator.errors import ConfigError, NotFound
from orchestrator.learning.evidence import library
from orchestrator.store.redis_store import RedisStore

app = typer.Typer(
    help="Baton: outcome orchestration for Slack and Microsoft Teams.",
    no_args_is_help=True,
    add_completion=False,
)
T = TypeVar("T")
log = logging.getLogger("baton")


def run_async(main: Callable[[], Coroutine[object, object, T]]) -> T:
    try:
        return asyncio.run(main())
    except ConfigError as error:
        typer.echo(f"Configuration error: {error}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


async def open_baton(
    gateway: ConsoleGateway | None = None,
    *,
    worker_only: bool = False,
    log_to: TextIO | None = None,
    say: Callable[[str], None] | None = None,
) -> App:
    """Wire Baton for a command. With the bundled workspace, its example data is created
    on first use, and that is logged (and said through `say`)."""
    settings = Settings()
    configure_logging(settings, stream=log_to)
    env, seeded = example_env(settings, os.environ)
    if seeded:
        log.info(seeded)
        if say is not None:
            say(seeded)
    gateways = {"console": gateway or ConsoleGateway()}
    return await bootstrap(settings, gateways, env=env, worker_only=worker_only)


@app.command()
def demo(
    story: Annotated[
        str, typer.Argument(help="'onboarding' for a standing outcome; default: churn.")
    ] = "churn",
) -> None:
    """Run the scripted demo story end to end in the console."""
    if story == "onboarding":
        from bot.demo.onboarding import run_onboarding

        result = run_async(lambda: run_onboarding(sys.stdout))
        raise typer.Exit(0 if result.ok else 1)
    if story != "churn":
        raise typer.BadParameter("the stories are 'churn' (the default) and 'onboarding'")
    from bot.demo.story import run_demo

    status = run_async(lambda: run_demo(sys.stdout))
    raise typer.Exit(0 if status.value == "achieved" else 1)


@app.command()
def console(
    user: Annotated[str, typer.Option("--as", help="Who you are in the conversation.")] = "",
) -> None:
    """Chat with Baton in the terminal (same handlers and commands as Slack and Teams)."""

    async def main() -> None:
        logs = Settings().state_dir / "console.log"
        logs.parent.mkdir(parents=True, exist_ok=True)
        with logs.open("a", encoding="utf-8") as log_file:  # log lines stay out of the chat

            async def open_console(gateway: ConsoleGateway, say: Callable[[str], None]) -> App:
                say(texts.CONSOLE_LOGS.format(path=logs))
                return await open_baton(gateway, log_to=log_file, say=say)

            await run_console(open_console, user=user, lines=sys.stdin, out=sys.stdout)

    run_async(main)


@app.command()
def audit(
    target: Annotated[str, typer.Argument(help="An outcome id (e.g. o3), 'verify' or 'export'.")],
    fmt: Annotated[str, typer.Option("--format", help="export: csv or json.")] = "csv",
) -> None:
    """Print an outcome's audit trail; `verify` checks every chain; `export` writes it all."""
    if fmt not in ("csv", "json"):
        raise typer.BadParameter("--format must be csv or json")

    async def main() -> int:
        baton = await open_baton()
        try:
            store = baton.runtime.ctx.store
            if target == "verify":
                return await _verify(store)
            if target == "export":
                for workspace in await store.workspaces():
                    typer.echo(await export(store, workspace, fmt), nl=False)
                return 0
            outcome = await store.outcome(target)
            for line in render.audit_lines(await store.audit_trail(outcome), baton.workspace):
                typer.echo(line)
            return 0
        except NotFound:
            typer.echo(f"No outcome {target}.", err=True)
            return 1
        finally:
            await baton.close()

    raise typer.Exit(run_async(main))


@app.command()
def evidence() -> None:
    """Print the evidence library: measured effects per action, pooled across outcomes."""

    async def main() -> None:
        baton = await open_baton()
        try:
            store = baton.runtime.ctx.store
            workspaces = await store.workspaces()
            if not workspaces:
                typer.echo(texts.EVIDENCE_EMPTY)
            for workspace in workspaces:
                pooled = list((await library(store, workspace)).values())
                typer.echo(texts.EVIDENCE_TITLE.format(count=len(pooled)) + f" · {workspace}")
                for line in effects.evidence_rows(pooled) or [texts.EVIDENCE_EMPTY]:
                    typer.echo(f"  {line}")
        finally:
            await baton.close()

    run_async(main)


async def _verify(store: RedisStore) -> int:
    broken = 0
    for workspace in await store.workspaces():
        verdict = await verify(store, workspace)
        state = "intact" if verdict.intact else f"BROKEN: {verdict.problem}"
        typer.echo(f"{workspace}: {verdict.events} events, {state}")
        broken += not verdict.intact
    return 1 if broken else 0


def main() -> None:
    # Each command module registers its commands on `app` when imported.
    from bot import cli_check, cli_runtime, cli_teams, cli_web, hooks, slack  # noqa: F401

    app()
