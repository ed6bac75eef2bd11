"""The clock's scheduler says nothing while all is well (it used to log two INFO lines per
run, about 170,000 a day per clock), and still says when a run fails."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.logging import configure_logging
from config.settings import Settings


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging(Settings(log_level="INFO", log_json=True), env={}, stream=out)
    yield out
    root.handlers, root.level = handlers, level
    for name in ("apscheduler", "httpx"):
        logging.getLogger(name).setLevel(logging.NOTSET)


async def _runs(job_fails: bool, times: int) -> None:
    done, count = asyncio.Event(), 0

    async def job() -> None:
        nonlocal count
        count += 1
        if count >= times:
            done.set()
        if job_fails:
            raise RuntimeError("the tick failed")

    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(job, "interval", seconds=0.02, id="tick")
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        scheduler.shutdown(wait=False)


async def test_runs_that_go_well_log_nothing(stream: io.StringIO) -> None:
    logging.getLogger("baton").info("a line of Baton's own")
    await _runs(job_fails=False, times=5)
    lines = stream.getvalue().splitlines()
    assert [line for line in lines if "apscheduler" in line] == []
    assert any("a line of Baton's own" in line for line in lines)  # INFO is on


async def test_a_failed_run_is_still_logged(stream: io.StringIO) -> None:
    await _runs(job_fails=True, times=1)
    await asyncio.sleep(0)  # the executor logs the failure after the job's coroutine ends
    lines = [line for line in stream.getvalue().splitlines() if "apscheduler" in line]
    assert lines and all('"level": "error"' in line for line in lines)
