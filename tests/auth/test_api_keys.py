"""API keys: shown once, stored as a digest, accepted two ways, limited by scope, revocable."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.auth_fixtures import LoggedInUser, LoginAs

from bazaar.auth.models import ApiKey
from bazaar.auth.opaque_tokens import hash_secret
from bazaar.auth.roles import Role
from bazaar.db import unit_of_work

KEYS = "/api/v1/api-keys"


async def create_key(
    client: httpx.AsyncClient, user: LoggedInUser, **fields: object
) -> dict[str, object]:
    response = await client.post(KEYS, headers=user.headers, json={"name": "sync", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_the_key_is_shown_once_and_stored_as_a_digest(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)

    created = await create_key(client, officer)
    listed = (await client.get(KEYS, headers=officer.headers)).json()["items"]

    key = str(created["key"])
    assert key.startswith(f"{created['prefix']}_")
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    async with unit_of_work(
        app.state.runtime.db, app.state.runtime.events, read_only=True
    ) as session:
        stored = (await session.scalars(select(ApiKey))).one()
    assert stored.key_hash == hash_secret(key)
    assert key not in stored.key_hash


async def test_a_key_acts_as_its_owner_through_either_header(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    key = str((await create_key(client, officer))["key"])

    bearer = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    header = await client.get("/api/v1/auth/me", headers={"X-API-Key": key})

    assert bearer.json()["id"] == header.json()["id"] == str(officer.id)


async def test_a_read_key_cannot_write_and_keys_cannot_manage_keys_or_sessions(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    read_key = {"X-API-Key": str((await create_key(client, officer, scope="read"))["key"])}
    write_key = {"X-API-Key": str((await create_key(client, officer, scope="write"))["key"])}
    profile = {"full_name": "Renamed"}

    assert (await client.get("/api/v1/users/me", headers=read_key)).status_code == 200
    refused = await client.put(f"/api/v1/users/{officer.id}", headers=read_key, json=profile)
    allowed = await client.put(f"/api/v1/users/{officer.id}", headers=write_key, json=profile)
    minting = await client.post(KEYS, headers=write_key, json={"name": "more"})
    logout = await client.post("/api/v1/auth/logout", headers=write_key)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert allowed.status_code == 200
    assert minting.status_code == 403
    assert logout.status_code == 403


async def test_a_sync_key_reaches_the_sync_protocol_and_nothing_else(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    sync_key = {"X-API-Key": str((await create_key(client, officer, scope="sync"))["key"])}

    pulled = await client.get("/api/v1/sync/changes?node_id=laptop-1", headers=sync_key)
    pushed = await client.post(
        "/api/v1/sync/push", headers=sync_key, json={"node_id": "laptop-1", "items": []}
    )
    elsewhere = await client.get("/api/v1/users/me", headers=sync_key)
    loans = await client.get("/api/v1/loans/", headers=sync_key)

    assert pulled.status_code == 200, pulled.text
    assert pushed.status_code == 200, pushed.text
    for refused in (elsewhere, loans):
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "insufficient_scope"


async def test_revoked_keys_and_keys_of_deactivated_owners_stop_working(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    revoked = await create_key(client, officer)
    kept = await create_key(client, officer)

    deleted = await client.delete(f"{KEYS}/{revoked['id']}", headers=officer.headers)
    after_revoke = await client.get("/api/v1/auth/me", headers={"X-API-Key": str(revoked["key"])})
    still = await client.get("/api/v1/auth/me", headers={"X-API-Key": str(kept["key"])})
    await client.delete(f"/api/v1/users/{officer.id}", headers=admin.headers)
    after_deactivation = await client.get(
        "/api/v1/auth/me", headers={"X-API-Key": str(kept["key"])}
    )

    assert deleted.status_code == 204
    assert after_revoke.status_code == 401
    assert still.status_code == 200
    assert after_deactivation.status_code == 401


@pytest.mark.parametrize(
    ("role", "change"),
    [
        pytest.param(Role.OFFICER, {"role": "customer"}, id="demotion"),
        pytest.param(Role.CUSTOMER, {"role": "admin"}, id="promotion"),
        pytest.param(Role.OFFICER, {"is_active": False}, id="deactivation"),
    ],
)
async def test_a_role_change_or_deactivation_suspends_the_keys_until_new_ones_are_issued(
    client: httpx.AsyncClient, login_as: LoginAs, role: Role, change: dict[str, object]
) -> None:
    admin, owner = await login_as(Role.ADMIN), await login_as(role)
    old = {"X-API-Key": str((await create_key(client, owner, scope="read"))["key"])}
    assert (await client.get("/api/v1/auth/me", headers=old)).status_code == 200

    changed = await client.put(f"/api/v1/users/{owner.id}", headers=admin.headers, json=change)
    assert changed.status_code == 200, changed.text
    if change.get("is_active") is False:
        back = {"is_active": True}
        assert (
            await client.put(f"/api/v1/users/{owner.id}", headers=admin.headers, json=back)
        ).status_code == 200

    refused = await client.get("/api/v1/auth/me", headers=old)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    listed = await client.get(KEYS, headers=admin.headers, params={"owner_id": str(owner.id)})
    assert [k["revoked_at"] is not None for k in listed.json()["items"]] == [True]
    reissued = await client.post(
        KEYS,
        headers=admin.headers,
        json={"name": "re-issued", "scope": "read", "owner_id": str(owner.id)},
    )
    new = {"X-API-Key": reissued.json()["key"]}
    me = await client.get("/api/v1/auth/me", headers=new)
    assert (me.status_code, me.json()["role"]) == (200, change.get("role", role.value))


async def test_others_keys_are_invisible_except_to_admins(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer, customer = (
        await login_as(Role.ADMIN),
        await login_as(Role.OFFICER),
        await login_as(Role.CUSTOMER),
    )
    key = await create_key(client, officer)

    assert (await client.get(KEYS, headers=customer.headers)).json()["items"] == []
    assert (await client.delete(f"{KEYS}/{key['id']}", headers=customer.headers)).status_code == 404
    admin_view = await client.get(KEYS, headers=admin.headers, params={"owner_id": str(officer.id)})
    assert [k["id"] for k in admin_view.json()["items"]] == [key["id"]]


async def test_keys_are_listed_a_page_at_a_time(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    made = [str((await create_key(client, officer))["id"]) for _ in range(3)]

    pages = [
        (await client.get(KEYS, headers=officer.headers, params={"limit": 2, "offset": offset}))
        for offset in (0, 2)
    ]

    assert [page.json()["total"] for page in pages] == [3, 3]
    assert [k["id"] for page in pages for k in page.json()["items"]] == sorted(made)


async def test_only_admins_mint_keys_for_others(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    node = await login_as(Role.NODE)

    for_node = await client.post(
        KEYS, headers=admin.headers, json={"name": "field laptop 7", "owner_id": str(node.id)}
    )
    stolen = await client.post(
        KEYS, headers=officer.headers, json={"name": "mine now", "owner_id": str(admin.id)}
    )

    assert for_node.status_code == 201
    me = await client.get("/api/v1/auth/me", headers={"X-API-Key": for_node.json()["key"]})
    assert me.json()["role"] == "node"
    assert stolen.status_code == 422
    assert stolen.json()["error"]["code"] == "field_not_allowed"
