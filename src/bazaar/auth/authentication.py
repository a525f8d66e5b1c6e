"""Who is calling: an access token or an API key turned into a Principal, or refused.

The check reads the database (and Redis's denylist) and keeps what it read for a moment
(`validity_cache`): logout, a password change, a deactivation or a demotion takes effect on the
next request of the worker that committed it and within a second on every other. An access
token is accepted only within a login session that was issued to its subject and is still
live. The read never runs in a request's transaction: it takes a short connection of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Executable, bindparam, exists, select

from bazaar.auth.access_tokens import AccessClaims, InvalidTokenError, read_access_token
from bazaar.auth.context import AuthContext, auth_context
from bazaar.auth.errors import InvalidToken
from bazaar.auth.models import ApiKey, RefreshToken, RevokedAccessToken, User
from bazaar.auth.opaque_tokens import API_KEY_PREFIX, hash_secret
from bazaar.auth.principal import Principal
from bazaar.auth.revocation import is_denylisted_in_redis
from bazaar.db import NO_BEGIN, sqlite_begin
from bazaar.stamps import utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    # The access token's claims; None for an API key.
    claims: AccessClaims | None


async def authenticate(credential: str, *, app_state: Any) -> Authenticated:
    """Check a credential; a database read, when the cache has none, is one statement on a
    short connection outside any transaction (so it never takes SQLite's write lock)."""
    context = auth_context(app_state.runtime)
    if credential.startswith(API_KEY_PREFIX):
        return Authenticated(await _api_key_principal(context, credential), None)
    try:
        claims = read_access_token(context.tokens, credential)
    except InvalidTokenError as exc:
        log.info("access_token_refused", reason=str(exc))
        raise InvalidToken from exc
    await _ensure_still_valid(context, claims)
    return Authenticated(Principal(user_id=claims.user_id, role=claims.role), claims)


async def _one_or_none(context: AuthContext, query: Executable, params: dict[str, Any]) -> Any:
    begin = sqlite_begin.set(NO_BEGIN)
    try:
        async with context.db.reads.connect() as connection:
            return (await connection.execute(query, params)).one_or_none()
    finally:
        sqlite_begin.reset(begin)


# Built once: these run on every authenticated request. SQLAlchemy caches the compiled SQL, but
# building the expression itself was a fifth of the check's time when done per call.
_VALIDITY = select(
    User.role,
    User.is_active,
    User.tokens_valid_after,
    # The token's session must have been issued to this user and not have reached its end: a
    # token naming a session id that never existed was not issued by us, whatever it is
    # signed with, and nothing could ever revoke it.
    exists()
    .where(
        RefreshToken.family_id == bindparam("session_id"),
        RefreshToken.user_id == bindparam("user_id"),
        RefreshToken.family_expires_at > bindparam("now"),
    )
    .label("issued"),
    # A revoked family (logout, refresh-token reuse) ends every access token of that session,
    # not only the one presented at logout.
    exists()
    .where(RefreshToken.family_id == bindparam("session_id"), RefreshToken.revoked_at.is_not(None))
    .label("ended"),
).where(User.id == bindparam("user_id"))
# Without Redis the access-token denylist is a table.
_VALIDITY_AND_DENYLIST = _VALIDITY.add_columns(
    exists().where(RevokedAccessToken.jti == bindparam("jti")).label("denylisted")
)


async def _ensure_still_valid(context: AuthContext, claims: AccessClaims) -> None:
    cache = context.validity
    found = cache.session(claims.user_id, claims.session_id, claims.jti)
    if found is None:
        found = await _read_validity(context, claims)
        cache.keep_session(claims.user_id, claims.session_id, claims.jti, found)
    row, denylisted = found
    if row is None:
        raise InvalidToken
    reason = _refusal(
        claims,
        row.role,
        row.is_active,
        row.tokens_valid_after,
        live=bool(row.issued) and not row.ended,
        denylisted=denylisted,
    )
    if reason is not None:
        log.info("access_token_refused", reason=reason, user_id=str(claims.user_id))
        raise InvalidToken


async def _read_validity(context: AuthContext, claims: AccessClaims) -> tuple[Any, bool]:
    """The user's and the session's state for this token, and whether it is denylisted."""
    params: dict[str, Any] = {
        "user_id": claims.user_id,
        "session_id": claims.session_id,
        "now": utcnow(),
    }
    query = _VALIDITY
    if context.redis is None:
        query, params["jti"] = _VALIDITY_AND_DENYLIST, claims.jti
    row = await _one_or_none(context, query, params)
    if row is None or context.redis is None:
        return row, bool(row is not None and row.denylisted)
    return row, await is_denylisted_in_redis(context.redis, claims.jti)


def _refusal(
    claims: AccessClaims,
    role: str,
    is_active: bool,
    tokens_valid_after: datetime,
    *,
    live: bool,
    denylisted: bool,
) -> str | None:
    if not is_active:
        return "user inactive"
    if role != claims.role:
        return "role changed"
    if claims.issued_at <= tokens_valid_after:
        return "issued before tokens_valid_after"
    if not live:
        return "session unknown, ended or expired"
    if denylisted:
        return "revoked"
    return None


_API_KEY = (
    select(ApiKey.id, ApiKey.scope, ApiKey.expires_at, ApiKey.revoked_at, User.id, User.role)
    .join(User, User.id == ApiKey.owner_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), User.is_active.is_(True))
)


async def _api_key_principal(context: AuthContext, key: str) -> Principal:
    key_hash = hash_secret(key)
    cached = context.validity.api_key(key_hash)
    if cached is not None:
        return cached
    row = await _one_or_none(context, _API_KEY, {"key_hash": key_hash})
    if row is None or row.revoked_at is not None:
        raise InvalidToken
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise InvalidToken
    key_id, scope, _, _, user_id, role = row
    principal = Principal(user_id=user_id, role=role, api_key_id=key_id, scope=scope)
    context.validity.keep_api_key(key_hash, principal)
    return principal
