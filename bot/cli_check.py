"""`baton check`: validate the workspace and read every metric once."""

from __future__ import annotations

import typer

from bot.cli import app, open_baton, run_async
from orchestrator.errors import BatonError


@app.command()
def check() -> None:
    """Validate the workspace file and read every metric once."""

    async def main() -> int:
        baton = await open_baton()
        failures = 0
        try:
            typer.echo(f"Workspace {baton.workspace.name}: valid · {baton.store_label}")
            for name, metric in baton.workspace.metrics.items():
                try:
                    value = await baton.connectors.get(metric.connection).measure(metric=metric)
                    typer.echo(f"  {metric.connection:<10} {name:<20} {metric.show(value)}")
                except BatonError as error:
                    failures += 1
                    typer.echo(f"  {metric.connection:<10} {name:<20} ERROR {error}")
        finally:
            await baton.close()
        return failures

    raise typer.Exit(1 if run_async(main) else 0)
