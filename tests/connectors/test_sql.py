"""The sql connector on SQLite always, and on PostgreSQL when TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import create_engine, text

from orchestrator.connectors import Work
from orchestrator.connectors.sql import SqlConnector
from orchestrator.errors import ConnectorError
from orchestrator.models import Direction
from orchestrator.workspace.catalog import Action, Connection, Metric

HOSTILE = "x'); DROP TABLE customers; --"
INSERT = Action(
    lane="systems",
    description="Note customers",
    connection="db",
    for_each="rows",
    statement="INSERT INTO notes (idempotency_key, customer_id, body) "
    "VALUES (:idempotency_key, :customer_id, :draft) "
    "ON CONFLICT (idempotency_key, customer_id) DO NOTHING",
)
SCHEMA = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE notes (idempotency_key TEXT, customer_id INTEGER, body TEXT, "
    "PRIMARY KEY (idempotency_key, customer_id))",
    "INSERT INTO customers VALUES (1, 'Ada'), (2, 'Bo')",
]


def _urls(tmp: Path) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = [(f"sqlite:///{tmp / 'db.sqlite3'}", None)]
    if os.environ.get("TEST_POSTGRES_URL"):
        found.append((os.environ["TEST_POSTGRES_URL"], f"baton_test_{uuid.uuid4().hex[:8]}"))
    return found


class Database(NamedTuple):
    url: str
    on_loop: bool
    """Queried as a worker process queries SQLite: on its loop, through one kept connection."""


@pytest.fixture(params=["sqlite", "sqlite on the loop", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Each database, created with the schema, and dropped after."""
    urls = dict((u.split(":")[0].split("+")[0], (u, s)) for u, s in _urls(tmp_path))
    kind = request.param.split()[0]
    if kind not in urls:
        pytest.skip("TEST_POSTGRES_URL is not set")
    url, schema = urls[kind]
    if schema is not None:
        url = _with_schema(url, schema)
    _create(url, schema)
    yield Database(url, request.param.endswith("loop"))
    if schema is not None:
        _drop(url, schema)


@pytest.fixture
async def db(database: Database) -> AsyncIterator[SqlConnector]:
    connection = Connection(kind="sql", url=database.url)
    connector = SqlConnector("db", connection, {}, sqlite_on_loop=database.on_loop)
    yield connector
    await connector.close()


def _with_schema(url: str, schema: str) -> str:
    base = url.replace("postgresql://", "postgresql+psycopg://", 1)
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


def _create(url: str, schema: str | None) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        if schema is not None:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        for statement in SCHEMA:
            conn.execute(text(statement))
    engine.dispose()


def _drop(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


async def test_metric_reads_one_number(db: SqlConnector) -> None:
    metric = Metric(
        connection="db", query="SELECT COUNT(*) FROM customers", direction=Direction.INCREASE
    )
    assert await db.measure(metric=metric) == 2.0


async def test_metric_queries_cannot_write(db: SqlConnector) -> None:
    metric = Metric(
        connection="db", query="DELETE FROM customers RETURNING 1", direction=Direction.INCREASE
    )
    with pytest.raises(ConnectorError, match="'db': read failed"):
        await db.measure(metric=metric)
    rows = await db.fetch(query="SELECT COUNT(*) AS n FROM customers", params={})
    assert rows == [{"n": 2}]


async def test_each_read_sees_what_was_written_before_it(
    db: SqlConnector, database: Database
) -> None:
    count = "SELECT COUNT(*) AS n FROM customers"
    assert await db.fetch(query=count, params={}) == [{"n": 2}]
    writer = create_engine(database.url)
    with writer.begin() as conn:
        conn.execute(text("INSERT INTO customers VALUES (3, 'Cy')"))
    writer.dispose()
    assert await db.fetch(query=count, params={}) == [{"n": 3}]


async def test_a_missing_parameter_is_named(db: SqlConnector) -> None:
    with pytest.raises(ConnectorError, match="bind parameter 'n'"):
        await db.fetch(query="SELECT id FROM customers WHERE name = :n", params={})


async def test_a_failed_read_leaves_the_connector_working(db: SqlConnector) -> None:
    with pytest.raises(ConnectorError, match="'db': read failed"):
        await db.fetch(query="SELECT * FROM no_such_table", params={})
    rows = await db.fetch(query="SELECT name FROM customers WHERE id = :i", params={"i": 2})
    assert rows == [{"name": "Bo"}]


async def test_injection_through_parameters_is_just_data(db: SqlConnector) -> None:
    rows = [{"customer_id": 1}, {"customer_id": 2}]
    for _ in range(2):  # the retry of a step inserts nothing twice
        await db.perform(
            Work(action=INSERT, params={"draft": HOSTILE}, rows=rows, key="s1", shadow=False)
        )
    found = await db.fetch(query="SELECT body FROM notes ORDER BY customer_id", params={})
    assert found == [{"body": HOSTILE}, {"body": HOSTILE}]
    hits = await db.fetch(
        query="SELECT name FROM customers WHERE name = :n", params={"n": "Ada' OR '1'='1"}
    )
    assert hits == []
    assert len(await db.fetch(query="SELECT id FROM customers", params={})) == 2


async def test_shadow_shows_the_bound_parameters_and_writes_nothing(db: SqlConnector) -> None:
    receipt = await db.perform(
        Work(
            action=INSERT, params={"draft": "hi"}, rows=[{"customer_id": 1}], key="s2", shadow=True
        )
    )
    assert receipt["shadow"] and receipt["statement"] == INSERT.statement
    assert receipt["parameters"] == [{"draft": "hi", "customer_id": 1, "idempotency_key": "s2"}]
    assert await db.fetch(query="SELECT * FROM notes", params={}) == []


async def test_database_down_is_transient_and_names_the_connection(tmp_path: Path) -> None:
    url = "postgresql+psycopg://baton:pw-secret-77@127.0.0.1:1/none"
    connector = SqlConnector("db", Connection(kind="sql", url="${DB_URL}"), {"DB_URL": url})
    metric = Metric(connection="db", query="SELECT 1", direction=Direction.INCREASE)
    try:
        with pytest.raises(ConnectorError) as raised:
            await connector.measure(metric=metric)
    finally:
        await connector.close()
    assert raised.value.transient and raised.value.connection == "db"
    assert "pw-secret-77" not in str(raised.value)


async def test_check_mode_never_creates_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.sqlite3"
    connector = SqlConnector(
        "db", Connection(kind="sql", url=f"sqlite:///{path}"), {}, read_only=True
    )
    metric = Metric(connection="db", query="SELECT 1", direction=Direction.INCREASE)
    try:
        with pytest.raises(ConnectorError):
            await connector.measure(metric=metric)
    finally:
        await connector.close()
    assert not path.exists()


class ThreadRecording(SqlConnector):
    """Notes the thread each read runs on."""

    def __init__(self, url: str, *, sqlite_on_loop: bool) -> None:
        super().__init__("db", Connection(kind="sql", url=url), {}, sqlite_on_loop=sqlite_on_loop)
        self.threads: list[int] = []

    def _read(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.threads.append(threading.get_ident())
        return super()._read(query, params)


@pytest.mark.parametrize("on_loop", [True, False])
async def test_sqlite_runs_on_the_event_loop_only_in_a_worker_process(
    tmp_path: Path, on_loop: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    _create(url, None)
    connector = ThreadRecording(url, sqlite_on_loop=on_loop)
    try:
        rows = await connector.fetch(query="SELECT name FROM customers ORDER BY id", params={})
    finally:
        await connector.close()
    assert rows == [{"name": "Ada"}, {"name": "Bo"}]
    assert (connector.threads == [threading.get_ident()]) is on_loop


async def test_a_server_database_is_always_queried_in_a_thread(tmp_path: Path) -> None:
    if not os.environ.get("TEST_POSTGRES_URL"):
        pytest.skip("TEST_POSTGRES_URL is not set")
    schema = f"baton_test_{uuid.uuid4().hex[:8]}"
    url = _with_schema(os.environ["TEST_POSTGRES_URL"], schema)
    _create(url, schema)
    connector = ThreadRecording(url, sqlite_on_loop=True)
    try:
        assert len(await connector.fetch(query="SELECT id FROM customers", params={})) == 2
    finally:
        await connector.close()
        _drop(url, schema)
    assert connector.threads != [threading.get_ident()]
