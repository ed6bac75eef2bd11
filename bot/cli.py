"""The `baton` command."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, TypeVar

import typer

from bot.bootstrap import App, RedisUnreachable, bootstrap
from bot.console import ConsoleGateway, dispatch
from bot.logging import configure_logging
from bot.startup import CannotStart, load_settings
from config.settings import Settings
from handlers import render
from orchestrator.audit import export, verify
from orchestrator.errors import ConfigError, NotFound
from orchestrator.store.redis_store import RedisStore

app = typer.Typer(
    help="Baton: outcome orchestration for Slack and Microsoft Teams.",
    no_args_is_help=True,
    add_completion=False,
)
T = TypeVar("T")


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
) -> App:
    """Bootstrap this process. `serving` (web, worker, clock, run): wait for a Redis server
    that does not answer yet; any other command says at once that it does not."""
    settings = settings or load_settings()
    configure_logging(settings)
    gateways = {"console": gateway or ConsoleGateway()}
    return await bootstrap(settings, gateways, worker_only=worker_only, wait_for_redis=serving)


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
        gateway = ConsoleGateway()
        baton = await open_baton(gateway)
        me = user or baton.workspace.people.owner or "owner"
        typer.echo(
            f"Baton console · {baton.workspace.name} · {baton.store_label}\n"
            f"You are @{me}. Type 'help', plain words, 'approve <id>', "
            f"'reject <id> <reason>', 'as <user>', or 'quit'."
        )
        stop = asyncio.Event()
        background = [
            asyncio.create_task(baton.runtime.run_worker(stop)),
            asyncio.create_task(baton.runtime.run_timers(stop)),
        ]
        try:
            while (line := await asyncio.to_thread(_prompt, me)) is not None:
                if line.startswith("as "):
                    me = line[3:].strip().lstrip("@") or me
                    continue
                if line.strip():
                    await dispatch(baton.conversation, gateway, me, line)
        finally:
            stop.set()
            await asyncio.gather(*background)
            await baton.close()

    run_async(main)


def _prompt(user: str) -> str | None:
    try:
        line = input(f"@{user} > ")
    except EOFError:
        return None
    return None if line.strip() in ("quit", "exit") else line


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
