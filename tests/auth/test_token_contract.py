"""The checks other domains call directly (the WebSocket handshake, peers)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from tests.auth_fixtures import LoginAs

from bazaar.auth.errors import InvalidToken
from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.auth.tokens import authenticate_token, decode_access_token


async def test_authenticate_token_sees_revocation(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.OFFICER)

    before = await authenticate_token(user.access_token, app_state=app.state)
    await client.post("/api/v1/auth/logout", headers=user.headers)

    assert before == Principal(user_id=user.id, role=Role.OFFICER)
    with pytest.raises(InvalidToken):
        await authenticate_token(user.access_token, app_state=app.state)


async def test_decode_checks_signature_and_claims_only(app: FastAPI, login_as: LoginAs) -> None:
    user = await login_as(Role.CUSTOMER)

    claims = decode_access_token(user.access_token, app.state.runtime.settings)

    assert (claims.user_id, claims.role) == (user.id, Role.CUSTOMER)
    with pytest.raises(InvalidToken):
        decode_access_token(user.access_token[:-2], app.state.runtime.settings)
