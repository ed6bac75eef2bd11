"""Commands that run Baton's processes: `worker`, `clock`, and `run` (all in one).

Each stops on SIGTERM or SIGINT: a worker finishes or releases its current job within
the grace period, a clock gives up its leader lock so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import typer

from bot import otel
from bot.bootstrap import App
from bot.cli import app, open_baton, run_async
from bot.clock import build_clock
from bot.health import serve_health
from bot.logging import configure_logging
from bot.startup import load_settings, preflight

log = logging.getLogger("baton")

NEEDS_REDIS = (
    "`baton {command}` runs as its own process and shares work through Redis, so it needs "
    "a Redis server: set REDIS_URL (for example redis://localhost:6379/0). "
    "For a single process on this machine, use `baton run`."
)

Role = Callable[[App, asyncio.Event], Awaitable[None]]


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _worker(baton: App, stop: asyncio.Event) -> None:
    from bot.cli_metrics import backfill_quietly

    with contextlib.suppress(Exception):
        await baton.runtime.ctx.queue.prune_consumers()
    await asyncio.gather(baton.runtime.worker.run(stop), backfill_quietly(baton))


async def _clock(baton: App, stop: asyncio.Event) -> None:
    await build_clock(baton).run(stop)


async def _web(baton: App, stop: asyncio.Event) -> None:
    from bot.cli_web import serve

    await serve(baton, stop)


def _probes(command: str, port: int) -> Role:
    async def role(baton: App, stop: asyncio.Event) -> None:
        await serve_health(baton, stop, process=command, port=port)

    return role


def _serve(command: str, roles: list[Role], *, separate: bool) -> None:
    async def main() -> None:
        settings = load_settings()
        if separate and not settings.redis_url:
            typer.echo(NEEDS_REDIS.format(command=command), err=True)
            raise typer.Exit(2)
        configure_logging(settings)
        otel.setup(settings, command)
        await preflight(settings, listens=_web in roles, posts_to_slack=roles != [_clock])
        baton = await open_baton(settings=settings, serving=True, worker_only=roles == [_worker])
        typer.echo(f"Baton {command} · {baton.workspace.name} · {baton.store_label}")
        stop = _stop_on_signals()
        probes = [_probes(command, settings.health_port)] if settings.health_port else []
        try:
            await asyncio.gather(*(role(baton, stop) for role in [*roles, *probes]))
        finally:
            stop.set()
            await baton.close()

    run_async(main)


@app.command()
def worker() -> None:
    """Consume jobs from the Redis job stream (run as many as you like; needs REDIS_URL)."""
    _serve("worker", [_worker], separate=True)


@app.command()
def clock() -> None:
    """Move due timers and fire cron jobs; one leads, others stand by (needs REDIS_URL)."""
    _serve("clock", [_clock], separate=True)


@app.command()
def run() -> None:
    """Run web, worker and clock in one process (development and small installs)."""
    _serve("run", [_web, _worker, _clock], separate=False)
