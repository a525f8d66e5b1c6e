"""The change log's order: sequence numbers become visible in commit order, so a pull cursor
never moves past a row that commits later."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlalchemy import select
from tests.auth_fixtures import LoginAs

from bazaar.auth.roles import Role
from bazaar.db import unit_of_work
from bazaar.lending.models import Customer
from bazaar.sync.models import ChangeLog


async def test_a_writer_appends_only_after_the_writer_before_it_commits(
    app: FastAPI, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    db, events = app.state.runtime.db, app.state.runtime.events
    written, release = asyncio.Event(), asyncio.Event()

    async def write(name: str, *, hold: bool) -> None:
        async with unit_of_work(db, events) as session:
            session.add(Customer(full_name=name, phone="+91 90000 00000", officer_id=officer.id))
            await session.flush()
            if hold:
                written.set()
                await release.wait()

    first = asyncio.create_task(write("First", hold=True))
    await written.wait()
    second = asyncio.create_task(write("Second", hold=False))
    await asyncio.sleep(0.3)
    assert not second.done(), "the second writer appended while the first had not committed"
    release.set()
    await asyncio.gather(first, second)

    async with db.sessionmaker() as session:
        logged = await session.execute(
            select(Customer.full_name)
            .join(ChangeLog, ChangeLog.entity_id == Customer.id)
            .order_by(ChangeLog.seq)
        )
        assert [name for (name,) in logged] == ["First", "Second"]
