"""`Idempotency-Key` for writes that move money or stock (DESIGN.md §5).

A key belongs to the caller (their user id) and is claimed in its own short transaction before
the endpoint runs, so concurrent duplicates see each other whatever the request transaction does:

- first use: the claim row is inserted "in flight"; the endpoint stores its answer on that row in
  the request's own transaction (`Claim.respond`), so the answer and the write commit together;
- same key and same request (method, path, JSON body): the stored status and body are replayed;
- same key, other request: 422; same key while the first is still running: 409;
- the endpoint fails: the claim is released and the client may retry. A claim left in flight
  by a failed commit or a crashed process is taken over after `ABANDONED_AFTER`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from sqlalchemy import Integer, String, Text, UniqueConstraint, Uuid, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.auth.dependencies import CurrentUser
from bazaar.db import Base, Database, IdMixin, SessionDep
from bazaar.errors import ConflictError, InvalidInputError
from bazaar.runtime import Runtime
from bazaar.scheduler import Job
from bazaar.sqltypes import UTCDateTime
from bazaar.stamps import new_id, utcnow

ABANDONED_AFTER = timedelta(minutes=2)
KEEP_FOR = timedelta(hours=24)
REPLAY_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("owner_id", "key"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    """None while the first request is in flight."""
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class IdempotencyKeyReused(InvalidInputError):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used for a different request"


class IdempotencyKeyInFlight(ConflictError):
    code = "idempotency_key_in_flight"
    default_message = "A request with this Idempotency-Key is still being processed"


@dataclass(frozen=True)
class Claim:
    record_id: uuid.UUID | None
    """None when the request carried no key: nothing is stored."""
    replay: Response | None = None

    async def respond(self, session: AsyncSession, *, status_code: int, body: Any) -> Response:
        """The JSON answer, stored on the claim in the request's transaction."""
        content = orjson.dumps(jsonable_encoder(body))
        if self.record_id is not None:
            await session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == self.record_id)
                .values(status_code=status_code, response_body=content.decode())
            )
        return Response(content, status_code=status_code, media_type="application/json")


async def request_hash(request: Request) -> str:
    raw = await request.body()
    try:
        body = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS) if raw else b""
    except orjson.JSONDecodeError:
        body = raw
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _insert_ignoring_duplicate(conn: AsyncConnection, values: dict[str, Any]) -> Any:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return insert(IdempotencyRecord).values(**values).on_conflict_do_nothing()


async def claim_key(db: Database, *, owner_id: uuid.UUID, key: str, digest: str) -> Claim:
    table = IdempotencyRecord
    now = utcnow()
    record_id = new_id()
    async with db.engine.begin() as conn:
        values = {"id": record_id, "owner_id": owner_id, "key": key, "request_hash": digest}
        inserted = await conn.execute(
            _insert_ignoring_duplicate(conn, values | {"created_at": now})
        )
        if inserted.rowcount == 1:
            return Claim(record_id)
        stored = (
            await conn.execute(
                select(table.id, table.request_hash, table.status_code, table.response_body).where(
                    table.owner_id == owner_id, table.key == key
                )
            )
        ).one()
        if stored.request_hash != digest:
            raise IdempotencyKeyReused(details={"key": key})
        if stored.status_code is not None:
            replay = Response(
                stored.response_body,
                status_code=stored.status_code,
                media_type="application/json",
                headers={REPLAY_HEADER: "true"},
            )
            return Claim(stored.id, replay)
        taken_over = await conn.execute(
            update(table)
            .where(table.id == stored.id, table.status_code.is_(None))
            .where(table.created_at < now - ABANDONED_AFTER)
            .values(created_at=now)
        )
        if taken_over.rowcount == 1:
            return Claim(stored.id)
    raise IdempotencyKeyInFlight(details={"key": key})


async def release(db: Database, record_id: uuid.UUID) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.id == record_id, IdempotencyRecord.status_code.is_(None)
            )
        )


async def _idempotency(
    request: Request,
    principal: CurrentUser,
    session: SessionDep,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="Same key and body replays the stored answer; another body: 422.",
        ),
    ] = None,
) -> AsyncIterator[Claim]:
    if key is None:
        yield Claim(None)
        return
    db: Database = request.app.state.runtime.db
    claim = await claim_key(
        db, owner_id=principal.user_id, key=key, digest=await request_hash(request)
    )
    if claim.replay is not None or claim.record_id is None:
        yield claim
        return
    try:
        yield claim
    except BaseException:
        # The request's session (opened first, for authentication) still holds SQLite's write
        # lock and would be rolled back after this: roll it back now, or the release waits on it.
        await session.rollback()
        await release(db, claim.record_id)
        raise


IdempotencyDep = Annotated[Claim, Depends(_idempotency, scope="function")]


async def forget_expired(runtime: Runtime) -> None:
    async with runtime.db.engine.begin() as conn:
        await conn.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - KEEP_FOR)
        )


EXPIRY_JOB = Job("idempotency-keys-expiry", forget_expired, seconds=3600)
