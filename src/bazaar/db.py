"""Engine, sessions, the declarative base and the one commit per request.

The request's session commits after the endpoint returns and before the response is sent
(`Depends(..., scope="function")`), so a write that fails at commit is never answered 200.
Services only `flush()`. Events recorded during the transaction are published after commit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Integer, MetaData, String, Table, Update, Uuid, bindparam, event, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.util import await_only

from bazaar import sqlite_driver
from bazaar.config import Settings
from bazaar.sqltypes import UTCDateTime
from bazaar.stamps import new_id, utcnow

if TYPE_CHECKING:
    from bazaar.events import EventBus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


ROW_KEY = "row_key"
"""The bind name of the primary key in `update_by_key` parameter sets: a bind named like a
column would be taken for that column's SET value."""


def update_by_key(table: Table) -> Update:
    """An UPDATE of `table` by primary key, for executemany: each parameter set carries the key
    as ROW_KEY and the values to set."""
    return update(table).where(table.primary_key.columns[0] == bindparam(ROW_KEY))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


UNMAPPED_TABLES = "unmapped_tables"
"""`Base.metadata.info` key: tables a migration builds with backend-specific DDL and no model
maps (a domain's full-text index); comparing the schema with the models skips them."""


def mapped_name(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic's `include_name`: False for an unmapped table and its shadow tables (an FTS5
    table `x` keeps its index in `x_data`, `x_idx`, ...)."""
    unmapped = Base.metadata.info.get(UNMAPPED_TABLES, ())
    if type_ != "table" or name is None:
        return True
    return not any(name == table or name.startswith(f"{table}_") for table in unmapped)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SyncMixin:
    """Columns every replicated row carries (DESIGN.md §6).

    `version` is SQLAlchemy's version counter: an UPDATE that finds another version raises
    StaleDataError, which is the optimistic-concurrency check for free.
    """

    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_hlc: Mapped[str | None] = mapped_column(String(64), default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    origin_node: Mapped[str | None] = mapped_column(String(64), default=None)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


# SQLite takes its write lock lazily, and a read transaction that later writes cannot wait for
# it (SQLITE_BUSY at once). Writes therefore begin IMMEDIATE; safe-method requests begin
# DEFERRED so reads still run side by side under WAL; a lone read (ReadDep) begins nothing.
sqlite_begin: ContextVar[str] = ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")
NO_BEGIN = ""
_HOLDS_WRITE_LOCK = "bazaar.holds_write_lock"


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    # SQLite has one writer. Writers of this process queue on an asyncio lock, in order, instead
    # of sleeping in SQLite's busy handler with growing back-off, which is what made write p99
    # climb to seconds under load. The busy timeout still arbitrates between processes.
    write_lock = asyncio.Lock()
    timeout = busy_timeout_ms / 1000

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        begin = sqlite_begin.get()
        if begin not in ("BEGIN", NO_BEGIN):
            try:
                await_only(asyncio.wait_for(write_lock.acquire(), timeout))
            except TimeoutError as exc:
                raise SQLiteWriterBusy(f"no write turn within {timeout:g}s") from exc
            conn.connection.info[_HOLDS_WRITE_LOCK] = True
        if begin != NO_BEGIN:
            conn.exec_driver_sql(begin)

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        # Returned to the pool means committed or rolled back: the next writer may begin.
        if record.info.pop(_HOLDS_WRITE_LOCK, False):
            write_lock.release()


class SQLiteWriterBusy(OperationalError):
    def __init__(self, message: str) -> None:
        super().__init__(message, None, Exception(message))


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            module=sqlite_driver.dbapi(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    # No pre-ping: it cost a round trip per checkout (a tenth of a payment's time). A dropped
    # connection fails its request with 503 database_unavailable instead, and SQLAlchemy then
    # replaces every connection older than the failure.
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    reads: AsyncEngine
    """The same pool, for a lone read outside any transaction: on PostgreSQL in autocommit, which
    spares the BEGIN and ROLLBACK round trips; on SQLite a deferred transaction, as for reads."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = create_engine(settings)
        reads = (
            engine if settings.is_sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False), reads)

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def unit_of_work(
    db: Database, events: EventBus, *, read_only: bool = False
) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on error, then publish its events."""
    token = sqlite_begin.set("BEGIN" if read_only else "BEGIN IMMEDIATE")
    try:
        async with db.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            await events.publish_committed(session)
    finally:
        sqlite_begin.reset(token)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    state = request.app.state
    read_only = request.method in SAFE_METHODS
    async with unit_of_work(state.runtime.db, state.runtime.events, read_only=read_only) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    token = sqlite_begin.set(NO_BEGIN)
    try:
        async with request.app.state.runtime.db.reads.connect() as connection:
            yield connection
    finally:
        sqlite_begin.reset(token)


ReadDep = Annotated[AsyncConnection, Depends(get_read_connection, scope="function")]
Reader = AsyncSession | AsyncConnection
"""What a read query runs on: the request's session, or a ReadDep connection."""
"""For a safe-method route whose answer is one SELECT: a pooled connection outside any
transaction (autocommit on PostgreSQL, no BEGIN on SQLite), so the read costs one round trip
instead of three (BEGIN, the statement, COMMIT). One statement is its own snapshot on both (on
PostgreSQL, READ COMMITTED gave each statement its own already); a route whose statements must
see one snapshot on SQLite takes SessionDep. Nothing is written through it."""
