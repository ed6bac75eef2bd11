"""The history store on SQLite always, and on PostgreSQL when TEST_POSTGRES_URL is set
(each test in a schema of its own, dropped after)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from orchestrator.history.store import HistoryStore, engine_url


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.sqlite3'}"
        return
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set")
    schema = f"baton_history_{uuid.uuid4().hex[:8]}"
    _run(base, f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in base else "?"
    yield f"{base}{joiner}options=-csearch_path%3D{schema}"
    _run(base, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
async def history(history_url: str) -> AsyncIterator[HistoryStore]:
    store = HistoryStore(history_url)
    yield store
    await store.close()


def _run(url: str, statement: str) -> None:
    engine = create_engine(engine_url(url))
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()
