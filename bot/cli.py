"""The `baton` command."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import version as package_version
from typing import Annotated, TextIO, TypeVar

import typer

from bot.bootstrap import App, RedisUnreachable, bootstrap
from bot.console import ConsoleGateway, run_console
from bot.demo.seed import example_env
from bot.logging import configure_logging
from bot.platform import Platform
from bot.slack.app import SLACK
from bot.startup import CannotStart, load_settings
from bot.teams.surface import TEAMS
from config.settings import Settings
from handlers import effects, render, texts
from orchestrator.errors import ConfigError, NotFound
from orchestrator.learning.evidence import library
from orchestrator.store.audit import PostedHead, Verdict, export, rotate, verify
from orchestrator.store.redis_store import RedisStore

app = typer.Typer(
    help="Baton: outcome orchestration for Slack and Microsoft Teams.",
    no_args_is_help=True,
    add_completion=False,
)
T = TypeVar("T")
log = logging.getLogger("baton")

PLATFORMS: tuple[Platform, ...] = (TEAMS, SLACK)
"""The chat platforms every process of Baton wires: each delivers, serves and runs its
own jobs once configured (its gateway factory says None until then)."""


def _version(asked: bool) -> None:
    if asked:
        typer.echo(f"baton {package_version('baton')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print Baton's version and exit."
        ),
    ] = False,
) -> None:
    """Baton: outcome orchestration for Slack and Microsoft Teams."""


def run_async(main: Callable[[], Coroutine[object, object, T]]) -> T:
    """Run a command; a start-up failure is one line on stderr (what is wrong, what to do)."""
    try:
        return asyncio.run(main())
    except ConfigError as error:
        typer.echo(f"Configuration error: {error}", err=True)
        raise typer.Exit(2) from None
    except (CannotStart, RedisUnreachable) as error:
        typer.echo(f"Cannot start: {error}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


async def open_baton(
    gateway: ConsoleGateway | None = None,
    *,
    worker_only: bool = False,
    settings: Settings | None = None,
    serving: bool = False,
    log_to: TextIO | None = None,
    say: Callable[[str], None] | None = None,
) -> App:
    """Wire Baton for a command. `serving` (web, worker, clock, run): wait for a Redis
    server that does not answer yet; any other command says at once that it does not.
    With the bundled workspace, its example data is created on first use, and that is
    logged (and said through `say`)."""
    settings = settings or load_settings()
    configure_logging(settings, stream=log_to)
    env, seeded = example_env(settings, os.environ)
    if seeded:
        log.info(seeded)
        if say is not None:
            say(seeded)
    gateways = {"console": gateway or ConsoleGateway()}
    return await bootstrap(
        settings,
        gateways,
        platforms=PLATFORMS,
        env=env,
        worker_only=worker_only,
        wait_for_redis=serving,
    )


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
    target: Annotated[
        str, typer.Argument(help="An outcome id (e.g. o3), 'verify', 'export' or 'rotate'.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="export: csv or json.")] = "csv",
    heads: Annotated[
        list[str] | None,
        typer.Option(
            "--head",
            help="verify: a head posted earlier (SEQ:FINGERPRINT, from the weekly digest) that "
            "the chain must still contain; repeat for several.",
        ),
    ] = None,
    workspace: Annotated[
        str, typer.Option("--workspace", help="verify: only this workspace's chain.")
    ] = "",
) -> None:
    """Print an outcome's audit trail; `verify` checks every chain (with the keys that seal
    them, and against posted heads); `export` writes it all; `rotate` moves every chain to
    the current key (BATON_AUDIT_KEYS) now."""
    if fmt not in ("csv", "json"):
        raise typer.BadParameter("--format must be csv or json")
    posted = _posted_heads(heads or [])

    async def main() -> int:
        baton = await open_baton()
        try:
            store = baton.runtime.ctx.store
            if target == "verify":
                return await _verify(store, posted, workspace)
            if target == "rotate":
                return await _rotate(store, baton.runtime.ctx.clock.now().isoformat())
            if target == "export":
                for each in await store.workspaces():
                    typer.echo(await export(store, each, fmt), nl=False)
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


def _posted_heads(texts: list[str]) -> list[PostedHead]:
    try:
        return [PostedHead.parse(text) for text in texts]
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--head") from None


async def _verify(store: RedisStore, posted: list[PostedHead], only: str) -> int:
    workspaces = [only] if only else await store.workspaces()
    if posted and len(workspaces) != 1:
        typer.echo("--head names one chain: choose it with --workspace.", err=True)
        return 2
    broken = 0
    for workspace in workspaces:
        verdict = await verify(store, workspace, posted)
        moved = f" ({verdict.archived} in the history store)" if verdict.archived else ""
        typer.echo(f"{workspace}: {verdict.events} events{moved}, {_state(verdict, store)}")
        broken += not verdict.intact
    return 1 if broken else 0


def _state(verdict: Verdict, store: RedisStore) -> str:
    if not verdict.intact:
        return f"BROKEN: {verdict.problem}"
    if not verdict.events:
        return "intact (none yet)"
    if verdict.unkeyed:
        return (
            f"intact but UNKEYED (head {verdict.head}): anyone who can write Redis could "
            "have rewritten them; set BATON_AUDIT_KEY to seal the trail"
        )
    current = store.seal.keys.current
    later = f"; the next event moves it to key {current}" if verdict.kid != current else ""
    return f"intact, sealed with key {verdict.kid} (head {verdict.head}){later}"


async def _rotate(store: RedisStore, at: str) -> int:
    if not store.seal.keyed:
        typer.echo("No key to rotate to: set BATON_AUDIT_KEYS (or BATON_AUDIT_KEY).", err=True)
        return 2
    moved = await rotate(store, at)
    current = store.seal.keys.current
    typer.echo(f"Moved to key {current}: {', '.join(moved) or 'nothing (all current)'}")
    return 0


def main() -> None:
    # Each command module registers its commands on `app` when imported.
    from bot import (  # noqa: F401
        cli_check,
        cli_metrics,
        cli_runtime,
        cli_teams,
        cli_web,
    )

    app()
