"""The history store: finished records in SQL (SQLite by default, PostgreSQL by URL).

Records arrive here from Redis in batches (`orchestrator.history.archive`) and are never
changed after: each row keeps the record's JSON as Redis held it (an audit entry exactly
as chained, so its hash and seal still verify), plus the columns readers select by. Every
insert is keyed by the record's id and does nothing on a conflict, so a batch written
twice (a crash before Redis let go of it) leaves one row per record.

SQLAlchemy's engines are synchronous: each call runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random

from orchestrator.models import Approval, Measurement, Step

META = MetaData()
STEPS = Table(
    "baton_history_steps",
    META,
    Column("id", String(64), primary_key=True),
    Column("outcome_id", String(64), nullable=False),
    Column("workspace", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("finished_at", String(40)),
    Column("data", Text, nullable=False),
    Index("baton_history_steps_outcome", "outcome_id", "created_at"),
)
MEASUREMENTS = Table(
    "baton_history_measurements",
    META,
    Column("outcome_id", String(64), primary_key=True),
    # n: the measurement's place in its outcome's series (1: the first ever).
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("value", Float, nullable=False),
)
APPROVALS = Table(
    "baton_history_approvals",
    META,
    Column("id", String(64), primary_key=True),
    Column("outcome_id", String(64), nullable=False, index=True),
    Column("workspace", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("decided_at", String(40)),
    Column("data", Text, nullable=False),
)
AUDIT = Table(
    "baton_history_audit",
    META,
    Column("workspace", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("outcome_id", String(64)),
    Column("at", String(40), nullable=False),
    Column("entry", Text, nullable=False),
    Index("baton_history_audit_outcome", "outcome_id", "seq"),
)
KINDS = {"steps": STEPS, "measurements": MEASUREMENTS, "approvals": APPROVALS}
"""Record kinds whose retention is configurable, and the table each lives in; the audit
trail is kept for good (its chain is the evidence)."""
AGE_COLUMN = {"steps": "created_at", "measurements": "at", "approvals": "decided_at"}


@dataclass
class Batch:
    """Records to write in one transaction."""

    steps: list[Step] = field(default_factory=list)
    measurements: list[tuple[str, int, Measurement]] = field(default_factory=list)
    """(outcome id, place in its series, measurement)."""
    approvals: list[Approval] = field(default_factory=list)
    audit: list[tuple[str, int, str | None, str, str]] = field(default_factory=list)
    """(workspace, seq, outcome id, at, the entry as chained)."""

    def __len__(self) -> int:
        return len(self.steps) + len(self.measurements) + len(self.approvals) + len(self.audit)


def default_url(state_dir: Path) -> str:
    """The SQLite file under the state directory (no server needed)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state_dir / 'history.sqlite3'}"


def engine_url(url: str) -> str:
    """`postgresql://` through psycopg 3 (the driver Baton ships with)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


class HistoryStore:
    """Finished steps, measurements, approvals and audit entries, in SQL."""

    def __init__(self, url: str) -> None:
        self.url = engine_url(url)
        sqlite_file = self.url.startswith("sqlite")
        self.engine: Engine = create_engine(self.url, pool_pre_ping=not sqlite_file)
        if sqlite_file:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _create_tables(self.engine)

    @property
    def label(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.dispose)

    async def put(self, batch: Batch) -> None:
        """Write `batch` in one transaction; records already here are left as they are."""
        if len(batch):
            await asyncio.to_thread(self._put, batch)

    def _put(self, batch: Batch) -> None:
        with self.engine.begin() as conn:
            self._insert(conn, STEPS, [_step_row(s) for s in batch.steps])
            self._insert(
                conn,
                MEASUREMENTS,
                [
                    {"outcome_id": o, "n": n, "at": m.at.isoformat(), "value": m.value}
                    for o, n, m in batch.measurements
                ],
            )
            self._insert(conn, APPROVALS, [_approval_row(a) for a in batch.approvals])
            self._insert(
                conn,
                AUDIT,
                [
                    {"workspace": w, "seq": s, "outcome_id": o, "at": at, "entry": e}
                    for w, s, o, at, e in batch.audit
                ],
            )

    def _insert(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        keys = [c.name for c in table.primary_key.columns]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).on_conflict_do_nothing(index_elements=keys)
        conn.execute(statement, rows)

    async def steps(self, outcome_id: str) -> list[Step]:
        rows = await self._rows(
            select(STEPS.c.data)
            .where(STEPS.c.outcome_id == outcome_id)
            .order_by(STEPS.c.created_at, STEPS.c.id)
        )
        return [Step.model_validate_json(row[0]) for row in rows]

    async def measurements(self, outcome_id: str, upto: int, last: int = 0) -> list[Measurement]:
        """The outcome's archived measurements up to place `upto`, oldest first (the `last`
        ones only, if set)."""
        query = select(MEASUREMENTS.c.at, MEASUREMENTS.c.value).where(
            MEASUREMENTS.c.outcome_id == outcome_id, MEASUREMENTS.c.n <= upto
        )
        if last:
            query = query.order_by(MEASUREMENTS.c.n.desc()).limit(last)
            rows: Sequence[Any] = list(reversed(await self._rows(query)))
        else:
            rows = await self._rows(query.order_by(MEASUREMENTS.c.n))
        return [Measurement(at=datetime.fromisoformat(at), value=value) for at, value in rows]

    async def approval(self, approval_id: str) -> Approval | None:
        rows = await self._rows(select(APPROVALS.c.data).where(APPROVALS.c.id == approval_id))
        return Approval.model_validate_json(rows[0][0]) if rows else None

    async def approvals(self, outcome_id: str) -> list[Approval]:
        rows = await self._rows(
            select(APPROVALS.c.data)
            .where(APPROVALS.c.outcome_id == outcome_id)
            .order_by(APPROVALS.c.id)
        )
        return [Approval.model_validate_json(row[0]) for row in rows]

    async def audit(self, workspace: str, upto: int, outcome_id: str | None = None) -> list[str]:
        """A workspace's archived entries up to seq `upto`, as chained, oldest first; only
        one outcome's with `outcome_id`."""
        query = select(AUDIT.c.entry).where(AUDIT.c.workspace == workspace, AUDIT.c.seq <= upto)
        if outcome_id is not None:
            query = query.where(AUDIT.c.outcome_id == outcome_id)
        return [row[0] for row in await self._rows(query.order_by(AUDIT.c.seq))]

    async def counts(self) -> dict[str, int]:
        """Rows per table (an operator's view of what the store holds)."""
        tables = {**KINDS, "audit": AUDIT}
        return {
            kind: int((await self._rows(select(func.count()).select_from(table)))[0][0])
            for kind, table in tables.items()
        }

    async def prune(self, kind: str, before: datetime) -> int:
        """Delete `kind`'s records older than `before` (retention); how many went."""
        table = KINDS[kind]
        column = table.c[AGE_COLUMN[kind]]
        statement = delete(table).where(column.is_not(None), column < before.isoformat())
        return await asyncio.to_thread(self._execute, statement)

    def _execute(self, statement: Any) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(statement).rowcount or 0)

    async def _rows(self, query: Any) -> Sequence[Any]:
        return await asyncio.to_thread(self._select, query)

    def _select(self, query: Any) -> Sequence[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())


def _step_row(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "outcome_id": step.outcome_id,
        "workspace": step.workspace,
        "status": step.status.value,
        "created_at": step.created_at.isoformat(),
        "finished_at": step.finished_at.isoformat() if step.finished_at else None,
        "data": step.model_dump_json(),
    }


def _approval_row(approval: Approval) -> dict[str, Any]:
    return {
        "id": approval.id,
        "outcome_id": approval.outcome_id,
        "workspace": approval.workspace,
        "status": approval.status.value,
        "decided_at": approval.decided_at.isoformat() if approval.decided_at else None,
        "data": approval.model_dump_json(),
    }


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers run while the archive writes; a busy file is waited for."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")  # first: switching to WAL may wait too
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _create_tables(engine: Engine) -> None:
    """Create the tables that do not exist yet. Processes starting together on a new
    database race between looking and creating, table by table (and SQLite answers a
    writer that would deadlock at once): a process that loses looks again, creating what is
    still missing, until all are there."""
    for attempt in Retrying(
        retry=retry_if_exception(_lost_race),
        stop=stop_after_attempt(CREATE_TRIES),
        wait=wait_random(0, 0.05),
        reraise=True,
    ):
        with attempt:
            META.create_all(engine)


CREATE_TRIES = 20
"""Looks at the tables before giving up: one per process it may race with, and more."""


def _lost_race(error: BaseException) -> bool:
    """Another process created a table first, or held the file while this one looked."""
    return isinstance(error, DBAPIError) and (
        "already exists" in str(error) or "database is locked" in str(error)
    )
