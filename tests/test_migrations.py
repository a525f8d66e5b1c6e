"""The schema comes from the migrations, and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI

from bazaar.migrate import downgrade, upgrade
from bazaar.models import Base


async def diff(app: FastAPI) -> list[object]:
    async with app.state.runtime.db.engine.connect() as conn:

        def compare(sync_conn):  # type: ignore[no-untyped-def]
            context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)

        return list(await conn.run_sync(compare))


async def test_models_and_migrations_agree(app: FastAPI) -> None:
    assert await diff(app) == []


async def test_downgrade_to_base_and_upgrade_again(app: FastAPI) -> None:
    engine = app.state.runtime.db.engine
    await downgrade(engine, "base")
    await upgrade(engine)
    assert await diff(app) == []
