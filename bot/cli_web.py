"""`baton web` (the chat surfaces' HTTP server, no worker) and `baton manifest slack`."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from bot import hooks, otel
from bot.bootstrap import App
from bot.cli import app, open_baton, run_async
from bot.logging import configure_logging
from bot.platform import Surface
from bot.slack.config import banner
from bot.slack.manifest import manifest_yaml
from bot.startup import listen_failure, load_settings, preflight
from bot.web import serve_web

manifest_app = typer.Typer(help="Print app manifests for the chat platforms.", no_args_is_help=True)
app.add_typer(manifest_app, name="manifest")


@app.command()
def web() -> None:
    """Serve Slack, Teams and /healthz on $BATON_HOST:$PORT. Jobs run in `baton run` (or
    `baton worker`)."""

    async def main() -> None:
        settings = load_settings()
        configure_logging(settings)
        otel.setup(settings, "web")
        # A half-configured Slack, a refused token or a taken port is said before waiting.
        await preflight(settings, listens=True, posts_to_slack=True)
        baton = await open_baton(settings=settings, serving=True)
        where = f"{settings.host}:{settings.port}"
        typer.echo(f"Baton web · {baton.workspace.name} · {baton.store_label} · {where}")
        typer.echo(banner(baton.settings))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await serve(baton, stop)
        finally:
            await baton.close()

    run_async(main)


async def serve(baton: App, stop: asyncio.Event) -> None:
    """Serve on the configured address until `stop`; an address that cannot be listened on
    (taken since the preflight) is one line, not a traceback."""
    host, port = baton.settings.host, baton.settings.port
    try:
        await serve_web(baton, stop, surfaces=surfaces(baton), port=port, host=host)
    except OSError as error:
        raise listen_failure(host, port, error) from None


def surfaces(baton: App) -> list[Surface]:
    """What `baton web` serves: each wired chat platform's routes, then the case hooks."""
    return [*(platform.surface for platform in baton.platforms), hooks.mount]


@manifest_app.command("slack")
def manifest_slack(
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Where Slack reaches `baton web`, e.g. https://…"),
    ] = None,
    socket_mode: Annotated[
        bool,
        typer.Option(
            "--socket-mode", help="For Socket Mode (SLACK_APP_TOKEN): no public URL needed."
        ),
    ] = False,
    assistant: Annotated[
        bool,
        typer.Option(
            "--assistant",
            help="With Slack's assistant container (set BATON_SLACK_ASSISTANT=true too).",
        ),
    ] = False,
) -> None:
    """Print the Slack app manifest (YAML) to paste at api.slack.com/apps > Create New App."""
    if socket_mode == (base_url is not None):
        typer.echo("Give either --base-url https://… or --socket-mode.", err=True)
        raise typer.Exit(2)
    typer.echo(manifest_yaml(None if socket_mode else base_url, assistant=assistant), nl=False)
