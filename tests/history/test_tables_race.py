"""Processes starting together on a new history database each create the tables they find
missing: however they interleave, every one of them opens the store."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from orchestrator.history.store import HistoryStore

STARTING = 6


def _open(url: str, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait()
    HistoryStore(url).engine.dispose()


def test_processes_opening_a_new_database_together_all_open_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(STARTING)
    processes = [context.Process(target=_open, args=(url, start)) for _ in range(STARTING)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * STARTING
