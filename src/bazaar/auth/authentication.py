"""Who is calling: an access token or an API key turned into a Principal, or refused.

Every check reads the database (or Redis) on each request, so logout, a password change, a
deactivation or a demotion takes effect on the very next request, on every worker. The read uses
its own short read-only connection, never the request's write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bazaar.auth.access_tokens import AccessClaims, InvalidTokenError, read_access_token
from bazaar.auth.context import AuthContext, auth_context
from bazaar.auth.errors import InvalidToken
from bazaar.auth.models import ApiKey, RefreshToken, RevokedAccessToken, User
from bazaar.auth.opaque_tokens import API_KEY_PREFIX, hash_secret
from bazaar.auth.principal import Principal
from bazaar.auth.revocation import is_denylisted_in_redis
from bazaar.db import sqlite_begin, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    # The access token's claims; None for an API key.
    claims: AccessClaims | None


async def authenticate(credential: str, *, app_state: Any) -> Authenticated:
    context = auth_context(app_state)
    if credential.startswith(API_KEY_PREFIX):
        return Authenticated(await _api_key_principal(context, credential), None)
    try:
        claims = read_access_token(context.tokens, credential)
    except InvalidTokenError as exc:
        log.info("access_token_refused", reason=str(exc))
        raise InvalidToken from exc
    await _ensure_still_valid(context, claims)
    return Authenticated(Principal(user_id=claims.user_id, role=claims.role), claims)


class _ReadConnection:
    """A read-only connection (a DEFERRED transaction on SQLite, so it never takes the lock)."""

    def __init__(self, context: AuthContext) -> None:
        self._context = context

    async def __aenter__(self) -> AsyncConnection:
        self._begin = sqlite_begin.set("BEGIN")
        self._connection = await self._context.db.engine.connect()
        return self._connection

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._connection.close()
        finally:
            sqlite_begin.reset(self._begin)


async def _ensure_still_valid(context: AuthContext, claims: AccessClaims) -> None:
    # A revoked family (logout, refresh-token reuse) ends every access token of that session,
    # not only the one presented at logout.
    session_revoked = exists().where(
        RefreshToken.family_id == claims.session_id, RefreshToken.revoked_at.is_not(None)
    )
    query = select(
        User.role, User.is_active, User.tokens_valid_after, session_revoked.label("ended")
    ).where(User.id == claims.user_id)
    if context.redis is None:
        query = query.add_columns(
            exists().where(RevokedAccessToken.jti == claims.jti).label("denylisted")
        )
    async with _ReadConnection(context) as connection:
        row = (await connection.execute(query)).one_or_none()
    if row is None:
        raise InvalidToken
    denylisted = (
        bool(row.denylisted)
        if context.redis is None
        else await is_denylisted_in_redis(context.redis, claims.jti)
    )
    reason = _refusal(
        claims, row.role, row.is_active, row.tokens_valid_after, denylisted or bool(row.ended)
    )
    if reason is not None:
        log.info("access_token_refused", reason=reason, user_id=str(claims.user_id))
        raise InvalidToken


def _refusal(
    claims: AccessClaims,
    role: str,
    is_active: bool,
    tokens_valid_after: datetime,
    denylisted: bool,
) -> str | None:
    if not is_active:
        return "user inactive"
    if role != claims.role:
        return "role changed"
    if claims.issued_at <= tokens_valid_after:
        return "issued before tokens_valid_after"
    if denylisted:
        return "revoked"
    return None


async def _api_key_principal(context: AuthContext, key: str) -> Principal:
    query = (
        select(ApiKey.id, ApiKey.scope, ApiKey.expires_at, ApiKey.revoked_at, User.id, User.role)
        .join(User, User.id == ApiKey.owner_id)
        .where(ApiKey.key_hash == hash_secret(key), User.is_active.is_(True))
    )
    async with _ReadConnection(context) as connection:
        row = (await connection.execute(query)).one_or_none()
    if row is None or row.revoked_at is not None:
        raise InvalidToken
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise InvalidToken
    key_id, scope, _, _, user_id, role = row
    return Principal(user_id=user_id, role=role, api_key_id=key_id, scope=scope)
