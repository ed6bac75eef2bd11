"""The `sql` connector: SQLAlchemy 2, bound parameters only, read-only metric reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import Engine, TextClause, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler

from orchestrator.connectors import Work
from orchestrator.connectors.secrecy import Secrets
from orchestrator.errors import ConnectorError
from orchestrator.workspace.catalog import Connection, Metric

T = TypeVar("T")


class SqlConnector:
    """One database. Calls run in a worker thread so the event loop never blocks, except
    SQLite's when `sqlite_on_loop` (a worker process: SQLite is in-process, so the thread
    hand-off would cost more than the query).

    Reads are read-only. A server database is told so per read. A SQLite file is read
    through its own pool of connections opened with `PRAGMA query_only`; on the event loop
    through one of them, kept open (calls there never overlap)."""

    def __init__(
        self,
        name: str,
        connection: Connection,
        env: Mapping[str, str],
        *,
        read_only: bool = False,
        sqlite_on_loop: bool = False,
    ) -> None:
        self.name = name
        self.secrets = Secrets(name, env)
        url = self.secrets.expand(connection.url, where="url")
        timeout = float(connection.options.get("timeout_s", connection.timeout_s))
        args: dict[str, Any] = (
            {"timeout": timeout} if url.startswith("sqlite") else {"connect_timeout": int(timeout)}
        )
        if read_only:
            url = _read_only_url(url)
        sqlite = url.startswith("sqlite")
        # A file has no connection to go stale: SQLite is not pinged before each use.
        self._engine: Engine = create_engine(url, connect_args=args, pool_pre_ping=not sqlite)
        self._on_loop = sqlite and sqlite_on_loop
        # An in-memory database exists per connection: it is read through the writer's.
        self._reader = (
            _query_only(create_engine(_read_only_url(url), connect_args=args, pool_pre_ping=False))
            if sqlite and make_url(url).database not in (None, "", ":memory:")
            else None
        )
        self._kept: PoolProxiedConnection | None = None

    async def measure(self, *, metric: Metric) -> float:
        rows = await self.fetch(query=metric.query, params={})
        if not rows or len(rows[0]) != 1:
            raise ConnectorError(self.name, "a metric query must return exactly one value")
        value = next(iter(rows[0].values()))
        if value is None:
            raise ConnectorError(self.name, "the metric query returned no value (NULL)")
        try:
            return float(value)
        except (TypeError, ValueError) as error:
            raise ConnectorError(self.name, f"the metric query returned {value!r}") from error

    async def fetch(self, *, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return await self._call(self._read, query, dict(params))

    async def perform(self, work: Work) -> dict[str, Any]:
        statement = work.action.statement or ""
        params, key = work.params, work.key
        bound = (
            [{**params, **row, "idempotency_key": key} for row in work.rows]
            if work.action.for_each
            else [{**params, "idempotency_key": key}]
        )
        if work.shadow:
            return {
                "shadow": True,
                "statement": statement,
                "executions": len(bound),
                "parameters": bound[:5],
            }
        affected = await self._call(self._write, statement, bound)
        return {"executions": len(bound), "rows_affected": affected}

    async def close(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()
        await asyncio.to_thread(self._engine.dispose)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.dispose)

    async def _call(self, call: Callable[..., T], *args: Any) -> T:
        if self._on_loop:
            return call(*args)
        return await asyncio.to_thread(call, *args)

    def _read(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            if self._reader is None:
                return self._read_through(query, params)
            return self._read_sqlite(self._reader, query, params)
        except SQLAlchemyError as error:
            raise _failure(self.secrets, "read", error) from None

    def _read_through(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """A server database, or SQLite in memory: read-only for this read alone."""
        with self._engine.connect() as conn:
            self._read_only(conn.exec_driver_sql, on=True)
            try:
                return [dict(row._mapping) for row in conn.execute(_text(query), params)]
            finally:
                conn.rollback()
                self._read_only(conn.exec_driver_sql, on=False)

    def _read_sqlite(
        self, reader: Engine, query: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """A SQLite file: the statement as SQLAlchemy compiles it, run by the driver itself
        (SQLite is in-process: SQLAlchemy's result machinery would cost more than the query;
        it has no column types to convert here)."""
        compiled = _compiled(query, reader)
        values = compiled.construct_params(params)  # refuses a missing parameter
        bound = [values[name] for name in compiled.positiontup or ()]
        driver_error = reader.dialect.loaded_dbapi.Error
        try:
            conn = self._kept or reader.raw_connection()
        except driver_error as error:
            raise DBAPIError.instance(None, None, error, driver_error) from None
        try:
            rows = _fetch(conn, compiled.string, bound)
        except driver_error as error:
            self._kept = None
            conn.invalidate()  # not trusted again: the next read opens a new connection
            raise DBAPIError.instance(compiled.string, bound, error, driver_error) from None
        if self._on_loop:
            self._kept = conn
        else:
            conn.close()
        return rows

    def _write(self, statement: str, bound: list[dict[str, Any]]) -> int:
        try:
            with self._engine.begin() as conn:
                total = 0
                for params in bound:
                    total += max(conn.execute(_text(statement), params).rowcount, 0)
                return total
        except SQLAlchemyError as error:
            raise _failure(self.secrets, "write", error) from None

    def _read_only(self, run: Any, *, on: bool) -> None:
        # PostgreSQL's setting ends with the transaction; SQLite's stays on the pooled
        # connection, so it is switched off again after the read.
        dialect = self._engine.dialect.name
        if dialect == "postgresql" and on:
            run("SET TRANSACTION READ ONLY")
        elif dialect == "sqlite":
            run(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


def _fetch(conn: PoolProxiedConnection, statement: str, bound: list[Any]) -> list[dict[str, Any]]:
    cursor = conn.cursor()
    try:
        cursor.execute(statement, bound)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        cursor.close()


@lru_cache(maxsize=512)
def _compiled(statement: str, engine: Engine) -> SQLCompiler:
    compiled = _text(statement).compile(dialect=engine.dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled


@lru_cache(maxsize=512)
def _text(statement: str) -> TextClause:
    """A statement's clause, built once (its compiled form is cached by SQLAlchemy)."""
    return text(statement)


def _read_only_url(url: str) -> str:
    """A SQLite file's URL opened read-only: opening a missing file would create it (an
    empty database left behind by a read); read-only mode refuses instead. Other URLs, an
    in-memory database and a URL already in URI form are returned as they are."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return url
    path, _, query = url.removeprefix("sqlite:///").partition("?")
    if path.startswith("file:"):
        return url
    more = f"&{query}" if query else ""
    return f"sqlite:///file:{quote(path, safe='/:')}?mode=ro&uri=true{more}"


def _query_only(engine: Engine) -> Engine:
    """SQLite connections of `engine` refuse to write from the moment they open."""

    def refuse_writes(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    event.listen(engine, "connect", refuse_writes)
    return engine


def _failure(secrets: Secrets, what: str, error: SQLAlchemyError) -> ConnectorError:
    transient = isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )
    detail = (str(getattr(error, "orig", error)).splitlines() or ["unknown error"])[0][:300]
    return secrets.error(f"{what} failed: {detail}", transient=transient)
