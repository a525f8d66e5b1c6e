from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from bazaar.db import Database
from bazaar.idempotency import (
    ABANDONED_AFTER,
    KEEP_FOR,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    IdempotencyRecord,
    claim_key,
    forget_expired,
    release,
)
from bazaar.stamps import new_id, utcnow


async def _age(db: Database, by: timedelta) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(update(IdempotencyRecord).values(created_at=utcnow() - by))


async def _keys(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(IdempotencyRecord.key))).scalars())


async def test_a_second_claim_while_the_first_runs_is_409(app: FastAPI) -> None:
    db, owner = app.state.runtime.db, new_id()
    first = await claim_key(db, owner_id=owner, key="k", digest="a")

    with pytest.raises(IdempotencyKeyInFlight):
        await claim_key(db, owner_id=owner, key="k", digest="a")
    with pytest.raises(IdempotencyKeyReused):
        await claim_key(db, owner_id=owner, key="k", digest="b")
    assert first.record_id is not None
    assert first.replay is None


async def test_a_claim_abandoned_by_a_crash_is_taken_over(app: FastAPI) -> None:
    db, owner = app.state.runtime.db, new_id()
    first = await claim_key(db, owner_id=owner, key="k", digest="a")
    await _age(db, ABANDONED_AFTER + timedelta(seconds=1))

    second = await claim_key(db, owner_id=owner, key="k", digest="a")

    assert second.record_id == first.record_id
    assert second.replay is None


async def test_release_frees_the_key_for_a_new_request(app: FastAPI) -> None:
    db, owner = app.state.runtime.db, new_id()
    first = await claim_key(db, owner_id=owner, key="k", digest="a")
    assert first.record_id is not None

    await release(db, first.record_id)
    again = await claim_key(db, owner_id=owner, key="k", digest="other body")

    assert again.record_id is not None
    assert again.record_id != first.record_id


async def test_a_completed_answer_is_replayed_with_its_status(app: FastAPI) -> None:
    db, owner = app.state.runtime.db, new_id()
    claim = await claim_key(db, owner_id=owner, key="k", digest="a")
    async with db.sessionmaker() as session:
        await claim.respond(session, status_code=201, body={"amount": "1.00"})
        await session.commit()

    replayed = await claim_key(db, owner_id=owner, key="k", digest="a")

    assert replayed.replay is not None
    assert replayed.replay.status_code == 201
    assert bytes(replayed.replay.body) == b'{"amount":"1.00"}'
    assert replayed.replay.headers["Idempotent-Replayed"] == "true"


async def test_expired_keys_are_forgotten(app: FastAPI) -> None:
    db = app.state.runtime.db
    await claim_key(db, owner_id=new_id(), key="old", digest="a")
    await _age(db, KEEP_FOR + timedelta(minutes=1))
    await claim_key(db, owner_id=new_id(), key="new", digest="a")

    await forget_expired(app.state.runtime)

    assert await _keys(db) == ["new"]
