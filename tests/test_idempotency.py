from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, update

from bazaar.db import Database, sqlite_begin
from bazaar.idempotency import (
    KEEP_FOR,
    Claim,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    IdempotencyRecord,
    claim_key,
    forget_expired,
)
from bazaar.stamps import new_id, utcnow
from tests.backends import Backend


async def _answered(db: Database, *, owner: uuid.UUID, key: str, digest: str = "a") -> None:
    async with db.sessionmaker() as session:
        claim = await claim_key(session, owner_id=owner, key=key, digest=digest)
        await claim.respond(session, status_code=201, body={"amount": "1.00"})
        await session.commit()


async def _claim_alone(db: Database, *, owner: uuid.UUID, key: str, digest: str = "a") -> Claim:
    async with db.sessionmaker() as session:
        claim = await claim_key(session, owner_id=owner, key=key, digest=digest)
        await session.commit()
        return claim


async def _keys(db: Database) -> list[str]:
    """A read beside a running writer (a deferred transaction on SQLite)."""
    token = sqlite_begin.set("BEGIN")
    try:
        async with db.engine.connect() as conn:
            return list((await conn.execute(select(IdempotencyRecord.key))).scalars())
    finally:
        sqlite_begin.reset(token)


async def test_a_completed_answer_is_replayed_with_its_status(app: FastAPI) -> None:
    db, owner = app.state.runtime.db, new_id()
    await _answered(db, owner=owner, key="k")

    replayed = await _claim_alone(db, owner=owner, key="k")

    assert replayed.replay is not None
    assert replayed.replay.status_code == 201
    assert bytes(replayed.replay.body) == b'{"amount":"1.00"}'
    assert replayed.replay.headers["Idempotent-Replayed"] == "true"


async def test_the_same_key_for_another_request_is_refused(app: FastAPI) -> None:
    db, owner = app.state.runtime.db, new_id()
    await _answered(db, owner=owner, key="k", digest="a")

    with pytest.raises(IdempotencyKeyReused):
        await _claim_alone(db, owner=owner, key="k", digest="b")


async def test_nothing_is_stored_until_the_request_commits(app: FastAPI) -> None:
    db, owner = app.state.runtime.db, new_id()
    async with db.sessionmaker() as session:
        claim = await claim_key(session, owner_id=owner, key="k", digest="a")
        await claim.respond(session, status_code=201, body={})

        assert claim.replay is None
        assert await _keys(db) == []
        await session.commit()

    assert await _keys(db) == ["k"]


async def test_a_duplicate_of_a_running_request(app: FastAPI, backend: Backend) -> None:
    """PostgreSQL answers it 409 at once; on SQLite it waits for the write lock, then replays."""
    db, owner = app.state.runtime.db, new_id()
    async with db.sessionmaker() as first:
        claim = await claim_key(first, owner_id=owner, key="k", digest="a")
        duplicate = asyncio.create_task(_claim_alone(db, owner=owner, key="k"))
        if backend.name == "postgres":
            with pytest.raises(IdempotencyKeyInFlight):
                await duplicate
        else:
            await asyncio.sleep(0.05)
            assert not duplicate.done()
        await claim.respond(first, status_code=201, body={"amount": "1.00"})
        await first.commit()

    if backend.name != "postgres":
        replayed = await duplicate
        assert replayed.replay is not None
        assert bytes(replayed.replay.body) == b'{"amount":"1.00"}'


async def test_a_request_that_never_commits_leaves_its_key_free_at_once(app: FastAPI) -> None:
    """A refusal, a failed commit and a killed process all end in a rollback (the database rolls
    back the transaction of a connection that went away): the next request runs anew."""
    db, owner = app.state.runtime.db, new_id()
    async with db.sessionmaker() as first:
        claim = await claim_key(first, owner_id=owner, key="k", digest="a")
        await claim.respond(first, status_code=201, body={"amount": "1.00"})
        await first.rollback()

    again = await _claim_alone(db, owner=owner, key="k", digest="other body")

    assert again.replay is None
    assert await _keys(db) == []


async def test_a_claim_without_an_answer_is_taken_over(app: FastAPI) -> None:
    """A row the former claim-first scheme left in flight holds no answer: it is taken over."""
    db, owner = app.state.runtime.db, new_id()
    async with db.engine.begin() as conn:
        await conn.execute(
            insert(IdempotencyRecord).values(
                id=new_id(), owner_id=owner, key="k", request_hash="a", created_at=utcnow()
            )
        )

    await _answered(db, owner=owner, key="k")
    replayed = await _claim_alone(db, owner=owner, key="k")

    assert replayed.replay is not None
    assert replayed.replay.status_code == 201


async def test_expired_keys_are_forgotten(app: FastAPI) -> None:
    db = app.state.runtime.db
    await _answered(db, owner=new_id(), key="old")
    async with db.engine.begin() as conn:
        await conn.execute(
            update(IdempotencyRecord).values(created_at=utcnow() - KEEP_FOR - timedelta(minutes=1))
        )
    await _answered(db, owner=new_id(), key="new")

    await forget_expired(app.state.runtime)

    assert await _keys(db) == ["new"]
