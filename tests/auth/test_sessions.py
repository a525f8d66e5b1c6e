"""Refresh rotation, reuse detection, and sessions ending on logout, password change,
deactivation and demotion."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from tests.auth_fixtures import LoggedInUser, LoginAs, new_session_headers

from bazaar.auth.models import RefreshToken
from bazaar.auth.roles import Role
from bazaar.db import unit_of_work
from bazaar.stamps import utcnow

ME = "/api/v1/auth/me"


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_refresh_returns_a_new_pair_and_retires_the_old_token(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.CUSTOMER)

    first = await refresh(client, user.refresh_token)
    second = await refresh(client, first.json()["refresh_token"])

    assert first.status_code == 200
    assert second.status_code == 200
    assert first.json()["refresh_token"] != user.refresh_token
    assert first.json()["expires_in"] == 15 * 60
    me = await client.get(ME, headers=bearer(second.json()["access_token"]))
    assert me.json()["id"] == str(user.id)


async def test_reusing_a_rotated_token_ends_the_whole_family(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.CUSTOMER)
    newer = (await refresh(client, user.refresh_token)).json()

    reuse = await refresh(client, user.refresh_token)

    assert reuse.status_code == 401
    assert (await refresh(client, newer["refresh_token"])).status_code == 401
    # The session's access tokens end with it.
    assert (await client.get(ME, headers=bearer(newer["access_token"]))).status_code == 401


async def test_twenty_concurrent_refreshes_with_one_token_let_exactly_one_through(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.OFFICER)

    answers = await asyncio.gather(*(refresh(client, user.refresh_token) for _ in range(20)))

    assert sorted(a.status_code for a in answers) == [200] + [401] * 19


async def test_expired_refresh_tokens_are_refused(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    idle, absolute = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)
    past = utcnow() - timedelta(seconds=1)
    async with unit_of_work(app.state.runtime.db, app.state.runtime.events) as session:
        await session.execute(
            update(RefreshToken).where(RefreshToken.user_id == idle.id).values(idle_expires_at=past)
        )
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == absolute.id)
            .values(family_expires_at=past)
        )

    assert (await refresh(client, idle.refresh_token)).status_code == 401
    assert (await refresh(client, absolute.refresh_token)).status_code == 401


async def test_access_tokens_end_with_their_sessions_absolute_lifetime(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.CUSTOMER)
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    async with unit_of_work(app.state.runtime.db, app.state.runtime.events) as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user.id)
            .values(family_expires_at=utcnow() - timedelta(seconds=1))
        )
    # A session that ends by the clock, not by an event, is seen once the check's cache expires.
    await asyncio.sleep(app.state.runtime.settings.auth_validity_cache_seconds + 0.05)

    answer = await client.get(ME, headers=user.headers)

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_token"


async def test_logout_ends_the_session_and_no_other(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.CUSTOMER)
    other_device = await new_session_headers(app.state, user)
    earlier_access = user.headers
    rotated = (await refresh(client, user.refresh_token)).json()

    logout = await client.post("/api/v1/auth/logout", headers=bearer(rotated["access_token"]))

    assert logout.status_code == 204
    assert (await client.get(ME, headers=bearer(rotated["access_token"]))).status_code == 401
    assert (await client.get(ME, headers=earlier_access)).status_code == 401
    assert (await refresh(client, rotated["refresh_token"])).status_code == 401
    assert (await client.get(ME, headers=other_device)).status_code == 200


async def test_password_change_ends_every_session_but_returns_a_fresh_one(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.OFFICER)
    other_device = await new_session_headers(app.state, user)

    changed = await client.post(
        "/api/v1/auth/change-password",
        headers=user.headers,
        json={"current_password": user.password, "new_password": "a whole new passphrase"},
    )

    assert changed.status_code == 200
    assert (await client.get(ME, headers=user.headers)).status_code == 401
    assert (await client.get(ME, headers=other_device)).status_code == 401
    assert (await refresh(client, user.refresh_token)).status_code == 401
    assert (await client.get(ME, headers=bearer(changed.json()["access_token"]))).status_code == 200
    old = {"email": user.email, "password": user.password}
    assert (await client.post("/api/v1/auth/login", json=old)).status_code == 401
    new = {"email": user.email, "password": "a whole new passphrase"}
    assert (await client.post("/api/v1/auth/login", json=new)).status_code == 200


async def test_password_change_needs_the_current_password(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.OFFICER)

    changed = await client.post(
        "/api/v1/auth/change-password",
        headers=user.headers,
        json={"current_password": "not my password", "new_password": "a whole new passphrase"},
    )

    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "wrong_password"
    assert (await client.get(ME, headers=user.headers)).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"is_active": False}, id="deactivation"),
        pytest.param({"role": "customer"}, id="demotion"),
    ],
)
async def test_admin_changes_end_the_users_sessions(
    client: httpx.AsyncClient, login_as: LoginAs, change: dict[str, object]
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    assert (await client.get(ME, headers=officer.headers)).status_code == 200

    updated = await client.put(f"/api/v1/users/{officer.id}", headers=admin.headers, json=change)

    assert updated.status_code == 200
    assert (await client.get(ME, headers=officer.headers)).status_code == 401
    assert (await refresh(client, officer.refresh_token)).status_code == 401


async def test_delete_deactivates_signs_out_and_keeps_the_account(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, customer = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)

    deleted = await client.delete(f"/api/v1/users/{customer.id}", headers=admin.headers)

    assert deleted.status_code == 204
    assert (await client.get(ME, headers=customer.headers)).status_code == 401
    kept = await client.get(f"/api/v1/users/{customer.id}", headers=admin.headers)
    assert kept.json()["is_active"] is False
    login = {"email": customer.email, "password": customer.password}
    assert (await client.post("/api/v1/auth/login", json=login)).status_code == 401


async def login(client: httpx.AsyncClient, user: LoggedInUser) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )


async def test_logged_out_token_stays_refused_after_a_new_login(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    user = await login_as(Role.CUSTOMER)
    await client.post("/api/v1/auth/logout", headers=user.headers)

    fresh = await login(client, user)

    assert fresh.status_code == 200
    assert (await client.get(ME, headers=user.headers)).status_code == 401
    assert (await client.get(ME, headers=bearer(fresh.json()["access_token"]))).status_code == 200
