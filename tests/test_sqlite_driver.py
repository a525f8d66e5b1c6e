"""The SQLite cursor: one trip to aiosqlite's thread per statement, with results, row counts and
errors as SQLAlchemy's own adapter gives them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bazaar.config import Settings
from bazaar.db import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"
    engine = create_engine(Settings(_env_file=None, environment="test", database_url=url))
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls queued to aiosqlite's thread, by function name."""
    made: list[str] = []
    # aiosqlite leaves _execute unannotated: the variable's type makes the call below typed.
    queue: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await queue(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def test_each_statement_is_one_trip_with_its_rows_and_counts(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))  # the connection's own setup is not counted
        trips.clear()
        inserted = await connection.execute(
            text("INSERT INTO t (name) VALUES (:name)"), [{"name": "a"}, {"name": "b"}]
        )
        assert inserted.rowcount == 2
        renamed = await connection.execute(text("UPDATE t SET name = name || '!'"))
        assert renamed.rowcount == 2
        rows = await connection.execute(text("SELECT id, name FROM t ORDER BY id"))
        assert [tuple(row) for row in rows] == [(1, "a!"), (2, "b!")]
        assert len(trips) == 3
        one = await connection.execute(text("INSERT INTO t (name) VALUES ('c') RETURNING id"))
        assert one.scalar_one() == 3
        assert len(trips) == 4


async def test_database_errors_arrive_as_sqlalchemy_errors(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO t (name) VALUES ('a')"))
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO t (name) VALUES ('a')"))
        with pytest.raises(OperationalError):
            await connection.execute(text("SELECT * FROM no_such_table"))
        # The connection is still usable after both.
        count = await connection.execute(text("SELECT count(*) FROM t"))
        assert count.scalar_one() == 1
