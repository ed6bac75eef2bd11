"""Commands that run Baton's processes."""

from __future__ import annotations

import asyncio

import typer

from bot.cli import app, open_baton, run_async


@app.command()
def run() -> None:
    """Run the worker and the timers in one process until interrupted."""

    async def main() -> None:
        baton = await open_baton()
        typer.echo(f"Baton running · {baton.workspace.name} · {baton.store_label}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await asyncio.gather(baton.runtime.run_worker(stop), baton.runtime.run_timers(stop))
        finally:
            await baton.close()

    run_async(main)
