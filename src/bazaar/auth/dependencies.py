"""Who may call a route, declared in its signature.

    CurrentUser   any authenticated caller (401 otherwise)
    StaffOnly     admin or officer (403 otherwise)
    AdminOnly     admin
    require(...)  any set of roles
    PasswordUser  signed in with a password (not an API key): for account and key management

Credentials: `Authorization: Bearer <access token or API key>` or `X-API-Key: <API key>`.
A read-scoped API key is refused (403) on anything but safe methods; a sync-scoped one on
anything outside the sync protocol. Every authenticated call
counts against the caller's per-user rate limit. Each declares what it raises (`raises`), so
every route using one documents its 401, 403 and 429.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from bazaar.auth.access_tokens import AccessClaims
from bazaar.auth.authentication import authenticate
from bazaar.auth.context import AuthContext, auth_context
from bazaar.auth.errors import (
    InsufficientRole,
    InsufficientScope,
    InteractiveLoginRequired,
    InvalidToken,
)
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.db import SAFE_METHODS
from bazaar.errors import RateLimitedError, UnauthorizedError, raises

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_auth_context(request: Request) -> AuthContext:
    return auth_context(request.app.state.runtime)


AuthContextDep = Annotated[AuthContext, Depends(get_auth_context)]


@raises(UnauthorizedError, InvalidToken, InsufficientScope, RateLimitedError)
async def authenticate_request(
    request: Request,
    bearer: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    # No session and no AuthContextDep here: every authenticated route resolves this, and each
    # dependency costs FastAPI a resolution per request; the credential check's rare database
    # read (validity_cache) takes a short connection of its own.
    credential = bearer or api_key
    if not credential:
        raise UnauthorizedError
    state = request.app.state
    authenticated = await authenticate(credential, app_state=state)
    principal = authenticated.principal
    request.state.access_claims = authenticated.claims
    safe = request.method in SAFE_METHODS
    if not principal.may_call(request.scope["path"]) or (not principal.may_write() and not safe):
        raise InsufficientScope
    context = auth_context(state.runtime)
    await context.limits.hit_coarse(context.rules.per_user, "user", str(principal.user_id))
    return principal


CurrentUser = Annotated[Principal, Depends(authenticate_request)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    allowed = frozenset(roles)

    @raises(InsufficientRole)
    async def role_allowed(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            raise InsufficientRole
        return principal

    return role_allowed


AdminOnly = Annotated[Principal, Depends(require(Role.ADMIN))]
StaffOnly = Annotated[Principal, Depends(require(Role.ADMIN, Role.OFFICER))]


@raises(InteractiveLoginRequired)
async def password_session(request: Request, principal: CurrentUser) -> AccessClaims:
    """The access token's claims; API keys cannot change passwords, log out or mint keys."""
    claims: AccessClaims | None = request.state.access_claims
    if claims is None or principal.is_api_key:
        raise InteractiveLoginRequired
    return claims


PasswordUser = Annotated[AccessClaims, Depends(password_session)]
