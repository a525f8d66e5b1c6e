"""Every protected route refuses every kind of forged, stale or misused token with 401."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable

import httpx
import jwt
import pytest
from fastapi import FastAPI
from tests.auth.route_walk import PUBLIC, api_endpoints
from tests.auth_fixtures import LoggedInUser, LoginAs

from bazaar.auth.context import token_config
from bazaar.auth.roles import Role
from bazaar.config import Settings


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class Forger:
    """Tokens for a real admin, each broken in exactly one way, signed with the real key (as
    anyone holding the dev secret could)."""

    def __init__(self, settings: Settings, admin: LoggedInUser, other: LoggedInUser) -> None:
        config = token_config(settings)
        self.kid = config.signing_kid
        self.key = config.keys[self.kid]
        self.admin = admin
        self.claims = jwt.decode(admin.access_token, options={"verify_signature": False})
        self.others_session = jwt.decode(other.access_token, options={"verify_signature": False})[
            "sid"
        ]

    def from_scratch(self) -> str:
        """A ten-year admin token for a session that never existed: only the key and an id."""
        now = time.time()
        return self.sign(
            iat=now,
            nbf=int(now),
            exp=int(now) + 10 * 365 * 24 * 3600,
            jti="forged",
            sid=str(uuid.uuid4()),
        )

    def sign(self, *, key: bytes | None = None, kid: str | None = None, **changes: object) -> str:
        claims = {**self.claims, **changes}
        payload = {name: value for name, value in claims.items() if value is not None}
        headers = {"kid": kid or self.kid}
        return jwt.encode(payload, key or self.key, algorithm="HS256", headers=headers)

    def unsigned(self, alg: str) -> str:
        header = _segment({"alg": alg, "typ": "JWT", "kid": self.kid})
        return f"{header}.{_segment(self.claims)}."

    def flipped_bit(self) -> str:
        token = self.admin.access_token
        header, payload, signature = token.split(".")
        flipped = payload[:5] + chr(ord(payload[5]) ^ 1) + payload[6:]
        return f"{header}.{flipped}.{signature}"


FORGERIES: dict[str, Callable[[Forger], str]] = {
    "alg-none": lambda f: f.unsigned("none"),
    "alg-None": lambda f: f.unsigned("None"),
    "alg-nOnE": lambda f: f.unsigned("nOnE"),
    "wrong-key": lambda f: f.sign(key=b"k" * 32),
    "flipped-bit": lambda f: f.flipped_bit(),
    "missing-exp": lambda f: f.sign(exp=None),
    "expired-beyond-leeway": lambda f: f.sign(exp=int(time.time()) - 120),
    "nbf-in-future": lambda f: f.sign(nbf=int(time.time()) + 600),
    "wrong-aud": lambda f: f.sign(aud="another-service"),
    "wrong-iss": lambda f: f.sign(iss="https://evil.example"),
    "unknown-kid": lambda f: f.sign(kid="not-configured"),
    "refresh-token-as-bearer": lambda f: f.admin.refresh_token,
    "session-never-issued": lambda f: f.sign(sid=str(uuid.uuid4())),
    "another-users-session": lambda f: f.sign(sid=f.others_session),
    "lifetime-beyond-setting": lambda f: f.sign(exp=int(time.time()) + 3600),
    "ten-years-from-scratch": lambda f: f.from_scratch(),
}


@pytest.fixture
async def forger(settings: Settings, login_as: LoginAs) -> Forger:
    return Forger(settings, await login_as(Role.ADMIN), await login_as(Role.CUSTOMER))


async def test_the_unforged_token_is_accepted(client: httpx.AsyncClient, forger: Forger) -> None:
    response = await client.get("/api/v1/auth/me", headers=forger.admin.headers)

    assert response.status_code == 200
    # The forgeries are built from this token's claims with the real key, so each 401 below
    # is caused by the one thing changed.
    resigned = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {forger.sign()}"}
    )
    assert resigned.status_code == 200


def test_every_route_is_protected_or_declared_public(app: FastAPI) -> None:
    open_routes = {(e.method, e.path) for e in api_endpoints(app) if not e.protected}

    assert open_routes <= PUBLIC


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_forged_tokens_get_401_on_every_protected_route(
    app: FastAPI, client: httpx.AsyncClient, forger: Forger, forgery: str
) -> None:
    token = FORGERIES[forgery](forger)
    answers = {}
    for endpoint in api_endpoints(app):
        if not endpoint.protected:
            continue
        response = await client.request(
            endpoint.method, endpoint.url(), headers={"Authorization": f"Bearer {token}"}
        )
        answers[f"{endpoint.method} {endpoint.path}"] = response.status_code

    assert len(answers) >= 10
    assert {route: status for route, status in answers.items() if status != 401} == {}


async def test_an_access_token_is_not_a_refresh_token(
    client: httpx.AsyncClient, forger: Forger
) -> None:
    response = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": forger.admin.access_token}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_logout_cannot_end_a_forged_session_because_it_is_never_accepted(
    client: httpx.AsyncClient, forger: Forger
) -> None:
    forged = {"Authorization": f"Bearer {forger.from_scratch()}"}

    assert (await client.get("/api/v1/users", headers=forged)).status_code == 401
    logout = await client.post("/api/v1/auth/logout", headers=forged)
    assert logout.status_code == 401
    assert logout.json()["error"]["code"] == "invalid_token"
