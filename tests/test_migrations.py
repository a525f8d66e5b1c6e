"""The schema comes from the migrations, and the migrations match the models."""

from __future__ import annotations

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import text

from bazaar.auth.roles import Role
from bazaar.db import mapped_name
from bazaar.migrate import downgrade, upgrade
from bazaar.models import Base
from tests.auth_fixtures import LoginAs
from tests.lending.conftest import Lending, days_ago


async def diff(app: FastAPI) -> list[object]:
    async with app.state.runtime.db.engine.connect() as conn:

        def compare(sync_conn):  # type: ignore[no-untyped-def]
            opts = {"compare_type": True, "include_name": mapped_name}
            context = MigrationContext.configure(sync_conn, opts=opts)
            return compare_metadata(context, Base.metadata)

        return list(await conn.run_sync(compare))


async def test_models_and_migrations_agree(app: FastAPI) -> None:
    assert await diff(app) == []


async def test_downgrade_to_base_and_upgrade_again(app: FastAPI) -> None:
    engine = app.state.runtime.db.engine
    await downgrade(engine, "base")
    await upgrade(engine)
    assert await diff(app) == []


async def stored(app: FastAPI, table: str, column: str) -> list[int]:
    async with app.state.runtime.db.engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT {column} FROM {table} ORDER BY {column}"))  # noqa: S608
        return [int(value) for (value,) in rows]


async def test_money_moves_from_cents_to_thousandths_and_back(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    lending = Lending(client, await login_as(Role.ADMIN), await login_as(Role.OFFICER))
    loan = await lending.disbursed(disbursed_days_ago=10)
    paid = await lending.pay(loan["id"], "250.50", days_ago(1))
    assert paid.status_code == 201, paid.text
    before = await lending.get_loan(loan["id"])
    assert await stored(app, "payments", "amount") == [250_500]

    engine = app.state.runtime.db.engine
    await downgrade(engine, "0006_sync_field_ready")
    assert await stored(app, "payments", "amount") == [25_050]
    assert await stored(app, "loans", "principal") == [1_200_000]
    await upgrade(engine)
    assert await stored(app, "payments", "amount") == [250_500]
    assert await lending.get_loan(loan["id"]) == before


async def test_downgrade_refuses_to_drop_a_third_place(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    lending = Lending(client, await login_as(Role.ADMIN), await login_as(Role.OFFICER))
    customer = await lending.customer()
    await lending.loan(customer["id"], currency="KWD", principal="1000.125")
    with pytest.raises(RuntimeError, match="3-place amounts"):
        await downgrade(app.state.runtime.db.engine, "0006_sync_field_ready")
    assert await stored(app, "loans", "principal") == [1_000_125]
    assert await diff(app) == []
