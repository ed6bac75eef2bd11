"""`baton web` (the chat surfaces' HTTP server, no worker) and `baton manifest slack`."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from bot.cli import app, open_baton, run_async
from bot.slack.config import banner
from bot.slack.manifest import manifest_yaml
from bot.web import serve_web
from config.settings import Settings

manifest_app = typer.Typer(help="Print app manifests for the chat platforms.", no_args_is_help=True)
app.add_typer(manifest_app, name="manifest")


@app.command()
def web() -> None:
    """Serve Slack, Teams and /healthz on $PORT. Jobs run in `baton run` (or `baton worker`)."""

    async def main() -> None:
        banner(Settings())  # refuse a half-configured Slack before touching Redis
        baton = await open_baton()
        port = baton.settings.port
        typer.echo(f"Baton web · {baton.workspace.name} · {baton.store_label} · port {port}")
        typer.echo(banner(baton.settings))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await serve_web(baton, stop, port=port)
        finally:
            await baton.close()

    run_async(main)


@manifest_app.command("slack")
def manifest_slack(
    base_url: Annotated[
        str, typer.Option("--base-url", help="Where Slack reaches `baton web`, e.g. https://…")
    ],
) -> None:
    """Print the Slack app manifest (YAML) to paste at api.slack.com/apps > Create New App."""
    typer.echo(manifest_yaml(base_url), nl=False)
