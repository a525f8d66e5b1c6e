"""`Idempotency-Key` for writes that move money or stock (DESIGN.md §5).

A key belongs to the caller (their user id) and is claimed inside the request's own
transaction, so whatever ends that transaction ends the claim with it: a commit stores the
answer together with the write, and a refusal, a failed commit or a crashed process (whose
connection the database closes and rolls back) leaves the key free for the retry at once.

- first use: the endpoint runs and stores its answer (`Claim.respond`) in its transaction;
- same key and same request (method, path, JSON body): the stored status and body are replayed;
- same key, other request: 422;
- same key while the first is still running: on PostgreSQL the first holds a transaction-scoped
  advisory lock on the key, and the duplicate is answered 409 without waiting; on SQLite, whose
  writers take turns, the claim holds the one write lock, so the duplicate runs after the first
  has committed and gets the replay.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from sqlalchemy import Integer, String, Text, UniqueConstraint, Uuid, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bazaar.auth.dependencies import CurrentUser
from bazaar.db import Base, IdMixin, SessionDep
from bazaar.errors import ConflictError, InvalidInputError, raises
from bazaar.runtime import Runtime
from bazaar.scheduler import Job
from bazaar.sqltypes import UTCDateTime
from bazaar.stamps import new_id, utcnow

KEEP_FOR = timedelta(hours=24)
REPLAY_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(IdMixin, Base):
    """A stored answer. Rows are written with their answer; one without (`status_code` None)
    is a claim the claim-first scheme before this one left behind, and is taken over."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("owner_id", "key"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
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
    """What a request may do with its key: replay the stored answer, or run and `respond`."""

    owner_id: uuid.UUID | None = None
    """None when the request carried no key: nothing is stored."""
    key: str = ""
    request_hash: str = ""
    replay: Response | None = None

    async def respond(self, session: AsyncSession, *, status_code: int, body: Any) -> Response:
        """The JSON answer, stored under the key in the request's transaction."""
        content = orjson.dumps(jsonable_encoder(body))
        if self.owner_id is not None:
            await _store(session, self, status_code=status_code, body=content.decode())
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


def _lock_id(owner_id: uuid.UUID, key: str) -> int:
    """The key's PostgreSQL advisory lock: 64 bits of a hash. Two keys that share one only
    answer each other's concurrent first use 409; their stored answers stay apart."""
    digest = hashlib.blake2b(f"idempotency {owner_id} {key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def claim_key(session: AsyncSession, *, owner_id: uuid.UUID, key: str, digest: str) -> Claim:
    """Claims the key in `session`'s transaction: the stored answer to replay, or a claim to
    `respond` on. 422 for another request's key; 409 while a live transaction holds the key."""
    if session.get_bind().dialect.name == "postgresql":
        # Held until this transaction ends, however it ends: by commit, rollback, or the
        # server closing the connection of a dead process. Not waited for: a duplicate of a
        # running request learns so at once instead of holding a connection meanwhile.
        locked = await session.scalar(
            select(func.pg_try_advisory_xact_lock(_lock_id(owner_id, key)))
        )
        if not locked:
            raise IdempotencyKeyInFlight(details={"key": key})
    # A statement after the lock sees what its last holder committed (READ COMMITTED).
    table = IdempotencyRecord
    stored = (
        await session.execute(
            select(table.request_hash, table.status_code, table.response_body).where(
                table.owner_id == owner_id, table.key == key
            )
        )
    ).one_or_none()
    if stored is not None and stored.request_hash != digest:
        raise IdempotencyKeyReused(details={"key": key})
    if stored is None or stored.status_code is None:
        return Claim(owner_id, key, digest)
    replay = Response(
        stored.response_body,
        status_code=stored.status_code,
        media_type="application/json",
        headers={REPLAY_HEADER: "true"},
    )
    return Claim(owner_id, key, digest, replay)


async def _store(session: AsyncSession, claim: Claim, *, status_code: int, body: str) -> None:
    table = IdempotencyRecord
    answer = {"status_code": status_code, "response_body": body, "created_at": utcnow()}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(
            id=new_id(),
            owner_id=claim.owner_id,
            key=claim.key,
            request_hash=claim.request_hash,
            **answer,
        )
        .on_conflict_do_update(
            index_elements=[table.owner_id, table.key],
            set_=answer,
            where=table.status_code.is_(None),
        )
    )
    stored = await session.execute(statement)
    if stored.rowcount != 1:  # type: ignore[attr-defined]
        # Answered meanwhile by a request that claimed the key before this scheme (an older
        # process mid-deploy): this one rolls back, and its retry gets that answer.
        raise IdempotencyKeyInFlight(details={"key": claim.key})


@raises(IdempotencyKeyReused, IdempotencyKeyInFlight)
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
) -> Claim:
    if key is None:
        return Claim()
    digest = await request_hash(request)
    return await claim_key(session, owner_id=principal.user_id, key=key, digest=digest)


IdempotencyDep = Annotated[Claim, Depends(_idempotency)]


async def forget_expired(runtime: Runtime) -> None:
    async with runtime.db.engine.begin() as conn:
        await conn.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - KEEP_FOR)
        )


EXPIRY_JOB = Job("idempotency-keys-expiry", forget_expired, seconds=3600)
