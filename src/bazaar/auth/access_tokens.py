"""Access tokens: short-lived signed JWTs.

Access tokens follow RFC 8725: the algorithm is pinned (a token naming any other, ``none``
included, is refused before its signature is looked at), every registered claim is required,
``typ`` tells access tokens from anything else, and ``kid`` picks the verification key so keys can
rotate: sign with the newest, keep verifying with older ones until their tokens have expired.
A token whose ``exp - iat`` exceeds the configured lifetime is refused: we never issue one, so it
was forged (or minted under a longer lifetime that has since been shortened).
"""

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from bazaar.auth.roles import Role

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
# HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
MIN_KEY_BYTES = 32
_REQUIRED_CLAIMS = ["sub", "role", "exp", "iat", "nbf", "iss", "aud", "jti", "typ", "sid"]


class InvalidTokenError(Exception):
    """Not a token we issued, or no longer valid; the message is for logs, never for clients."""


@dataclass(frozen=True)
class TokenConfig:
    keys: Mapping[str, bytes]
    signing_kid: str
    issuer: str
    audience: str
    access_ttl: timedelta
    leeway: timedelta

    def __post_init__(self) -> None:
        if self.signing_kid not in self.keys:
            raise ValueError(
                f"signing key id {self.signing_kid!r} is not among the configured keys"
            )
        short = [kid for kid, key in self.keys.items() if len(key) < MIN_KEY_BYTES]
        if short:
            raise ValueError(f"JWT keys must be at least {MIN_KEY_BYTES} bytes: {', '.join(short)}")


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    role: Role
    jti: str
    # The login session (refresh-token family) the token was issued in; logout ends it.
    session_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    claims: AccessClaims


def issue_access_token(
    config: TokenConfig, *, user_id: uuid.UUID, role: Role, session_id: uuid.UUID, now: datetime
) -> IssuedAccessToken:
    expires_at = now + config.access_ttl
    claims = AccessClaims(
        user_id=user_id,
        role=role,
        jti=secrets.token_urlsafe(16),
        session_id=session_id,
        issued_at=now,
        expires_at=expires_at,
    )
    payload = {
        "sub": str(user_id),
        "role": role.value,
        # iat keeps sub-second precision: a token issued in the same second as a password change
        # must be told apart from one issued just before it (see User.tokens_valid_after).
        "iat": now.timestamp(),
        "nbf": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "iss": config.issuer,
        "aud": config.audience,
        "jti": claims.jti,
        "typ": ACCESS_TOKEN_TYPE,
        "sid": str(session_id),
    }
    token = jwt.encode(
        payload,
        config.keys[config.signing_kid],
        algorithm=ALGORITHM,
        headers={"kid": config.signing_kid},
    )
    return IssuedAccessToken(token=token, claims=claims)


def read_access_token(config: TokenConfig, token: str) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str) or kid not in config.keys:
            raise InvalidTokenError(f"unexpected header {header!r}")
        payload = jwt.decode(
            token,
            config.keys[kid],
            algorithms=[ALGORITHM],
            audience=config.audience,
            issuer=config.issuer,
            leeway=config.leeway,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    return _claims_from_payload(payload, config.access_ttl)


def _claims_from_payload(payload: Mapping[str, Any], access_ttl: timedelta) -> AccessClaims:
    if payload["typ"] != ACCESS_TOKEN_TYPE:
        raise InvalidTokenError(f"token type {payload['typ']!r} is not an access token")
    try:
        claims = AccessClaims(
            user_id=uuid.UUID(payload["sub"]),
            role=Role(payload["role"]),
            jti=str(payload["jti"]),
            session_id=uuid.UUID(payload["sid"]),
            issued_at=datetime.fromtimestamp(float(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(float(payload["exp"]), UTC),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidTokenError(f"malformed claims: {exc}") from exc
    # exp is iat + ttl rounded down to the second when issued, so a true token never exceeds it.
    if claims.expires_at - claims.issued_at > access_ttl:
        raise InvalidTokenError("lifetime exceeds the configured access-token lifetime")
    return claims
