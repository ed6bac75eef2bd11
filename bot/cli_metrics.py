"""`baton metrics backfill`: count, once, the records made before `/metrics` kept its
gauges (see orchestrator/store/backfill.py). Each `baton worker` also runs it once at
start; the command is for running it by hand (it is safe to run again, or from several
places at once)."""

from __future__ import annotations

import logging

import typer

from bot.bootstrap import App
from bot.cli import app, open_baton, run_async
from orchestrator.runtime.queue import consumer_name
from orchestrator.store.backfill import DONE, Backfill, backfill

log = logging.getLogger("baton.metrics")

metrics_app = typer.Typer(help="The numbers GET /metrics reports.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")


def said(result: Backfill) -> str:
    if result.ran and result.found is not None:
        found = result.found
        return (
            f"Backfilled: {sum(found.steps.values())} steps, {len(found.approval_s)} approval "
            f"decisions, {len(found.decision_s)} decision latencies."
        )
    if result.state == DONE:
        return "Already backfilled: nothing to do."
    return f"Another process is backfilling now ({result.state}): nothing to do here."


@metrics_app.command("backfill")
def backfill_command() -> None:
    """Compute the step gauges and latency histograms from the records made before Baton
    kept them (once per install; a no-op after)."""

    async def main() -> None:
        baton = await open_baton()
        try:
            typer.echo(said(await backfill(baton.runtime.ctx.store, consumer_name("backfill"))))
        finally:
            await baton.close()

    run_async(main)


async def backfill_quietly(baton: App) -> None:
    """The worker's one-off run at start: a no-op once done; a failure is logged (the
    next worker to start tries again)."""
    try:
        result = await backfill(baton.runtime.ctx.store, consumer_name("backfill"))
    except Exception as error:  # noqa: BLE001 - metrics must never stop the worker
        log.warning("metrics backfill did not finish (%s); the next start tries again", error)
        return
    if result.ran:
        log.info(said(result))
