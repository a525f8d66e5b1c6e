import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from bazaar.auth.access_tokens import (
    InvalidTokenError,
    TokenConfig,
    issue_access_token,
    read_access_token,
)
from bazaar.auth.opaque_tokens import new_refresh_token
from bazaar.auth.roles import Role

OLD_KEY = b"o" * 32
NEW_KEY = b"n" * 32
USER = uuid.UUID("0190d3a4-0000-7000-8000-000000000001")
SESSION = uuid.UUID("0190d3a4-0000-7000-8000-0000000000ff")


def make_config(**changes: object) -> TokenConfig:
    values: dict[str, object] = {
        "keys": {"2026-old": OLD_KEY, "2026-new": NEW_KEY},
        "signing_kid": "2026-new",
        "issuer": "bazaar",
        "audience": "bazaar-api",
        "access_ttl": timedelta(minutes=15),
        "leeway": timedelta(seconds=30),
    }
    values.update(changes)
    return TokenConfig(**values)  # type: ignore[arg-type]


def now() -> datetime:
    return datetime.now(UTC)


def test_round_trip_carries_every_required_claim() -> None:
    config = make_config()
    issued = issue_access_token(
        config, user_id=USER, role=Role.OFFICER, session_id=SESSION, now=now()
    )

    header = jwt.get_unverified_header(issued.token)
    payload = jwt.decode(issued.token, options={"verify_signature": False})
    claims = read_access_token(config, issued.token)

    assert header == {"alg": "HS256", "typ": "JWT", "kid": "2026-new"}
    assert set(payload) == {"sub", "role", "exp", "iat", "nbf", "iss", "aud", "jti", "typ", "sid"}
    assert payload["exp"] - payload["nbf"] == 15 * 60
    assert claims.jti == issued.claims.jti
    assert (claims.user_id, claims.role, claims.session_id) == (USER, Role.OFFICER, SESSION)


def test_tokens_signed_with_a_retired_but_configured_key_still_verify() -> None:
    old = make_config(signing_kid="2026-old")
    token = issue_access_token(
        old, user_id=USER, role=Role.ADMIN, session_id=SESSION, now=now()
    ).token

    assert read_access_token(make_config(), token).user_id == USER
    with pytest.raises(InvalidTokenError):
        read_access_token(make_config(keys={"2026-new": NEW_KEY}), token)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _payload(**changes: object) -> dict[str, object]:
    t = now().timestamp()
    claims: dict[str, object] = {
        "sub": str(USER),
        "role": "admin",
        "iat": t,
        "nbf": int(t),
        "exp": int(t) + 600,
        "iss": "bazaar",
        "aud": "bazaar-api",
        "jti": "j1",
        "typ": "access",
        "sid": str(SESSION),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(payload: dict[str, object], *, key: bytes = NEW_KEY, kid: str = "2026-new") -> str:
    return jwt.encode(payload, key, algorithm="HS256", headers={"kid": kid})


@pytest.mark.parametrize("alg", ["none", "None", "nOnE"])
def test_unsigned_tokens_are_refused(alg: str) -> None:
    token = f"{_b64({'alg': alg, 'typ': 'JWT', 'kid': '2026-new'})}.{_b64(_payload())}."

    with pytest.raises(InvalidTokenError):
        read_access_token(make_config(), token)


def test_flipped_bit_is_refused() -> None:
    token = _sign(_payload())
    body_start = token.index(".") + 1
    flipped = token[:body_start] + chr(ord(token[body_start]) ^ 1) + token[body_start + 1 :]

    with pytest.raises(InvalidTokenError):
        read_access_token(make_config(), flipped)


@pytest.mark.parametrize(
    "token_factory",
    [
        pytest.param(lambda: _sign(_payload(), key=b"w" * 32), id="wrong-key"),
        pytest.param(lambda: _sign(_payload(), kid="unknown"), id="unknown-kid"),
        pytest.param(lambda: _sign(_payload(exp=None)), id="missing-exp"),
        pytest.param(
            lambda: _sign(_payload(exp=int(now().timestamp()) - 31)), id="expired-beyond-leeway"
        ),
        pytest.param(lambda: _sign(_payload(nbf=int(now().timestamp()) + 120)), id="nbf-in-future"),
        pytest.param(lambda: _sign(_payload(aud="someone-else")), id="wrong-aud"),
        pytest.param(lambda: _sign(_payload(iss="someone-else")), id="wrong-iss"),
        pytest.param(lambda: _sign(_payload(typ="refresh")), id="wrong-typ"),
        pytest.param(
            lambda: _sign(_payload(exp=int(now().timestamp()) + 15 * 60 + 2)),
            id="lifetime-beyond-setting",
        ),
        pytest.param(lambda: _sign(_payload(role="root")), id="unknown-role"),
        pytest.param(lambda: _sign(_payload(sub="not-a-uuid")), id="bad-sub"),
        pytest.param(
            lambda: jwt.encode(
                _payload(), NEW_KEY * 2, algorithm="HS512", headers={"kid": "2026-new"}
            ),
            id="hs512",
        ),
        pytest.param(lambda: new_refresh_token(), id="refresh-token-as-bearer"),
    ],
)
def test_forged_or_stale_tokens_are_refused(token_factory: object) -> None:
    with pytest.raises(InvalidTokenError):
        read_access_token(make_config(), token_factory())  # type: ignore[operator]


def test_expired_within_leeway_is_accepted() -> None:
    token = _sign(_payload(exp=int(now().timestamp()) - 5))

    assert read_access_token(make_config(), token).user_id == USER


def test_configuration_refuses_short_keys_and_unknown_signing_kid() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        make_config(keys={"k": b"short"}, signing_kid="k")
    with pytest.raises(ValueError, match="not among"):
        make_config(signing_kid="missing")
