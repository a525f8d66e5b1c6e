"""/users: what admins may do to accounts, what everyone may do to their own."""

from __future__ import annotations

import uuid

import httpx
import pytest
from tests.auth_fixtures import LoginAs

from bazaar.auth.roles import Role

USERS = "/api/v1/users"
STAFF = {
    "email": "field.agent@example.com",
    "password": "kiosk round on tuesdays",
    "full_name": "Field Agent",
    "role": "officer",
}


async def test_admin_creates_staff_who_can_sign_in(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)

    created = await client.post(USERS, headers=admin.headers, json=STAFF)
    login = await client.post(
        "/api/v1/auth/login", json={"email": STAFF["email"], "password": STAFF["password"]}
    )

    assert created.status_code == 201
    assert created.json()["role"] == "officer"
    assert login.status_code == 200


async def test_only_admins_create_users(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    officer = await login_as(Role.OFFICER)

    response = await client.post(USERS, headers=officer.headers, json=STAFF)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_role"


async def test_admin_lists_with_filters_and_pages(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)
    customers = [await login_as(Role.CUSTOMER) for _ in range(3)]
    await login_as(Role.OFFICER)

    first = await client.get(USERS, headers=admin.headers, params={"role": "customer", "limit": 2})
    second = await client.get(
        USERS, headers=admin.headers, params={"role": "customer", "limit": 2, "offset": 2}
    )
    search = await client.get(USERS, headers=admin.headers, params={"q": customers[1].email})

    assert first.json()["total"] == 3
    listed = [u["id"] for u in first.json()["items"] + second.json()["items"]]
    assert sorted(listed) == sorted(str(c.id) for c in customers)
    assert [u["id"] for u in search.json()["items"]] == [str(customers[1].id)]


async def test_users_read_themselves_but_not_others(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    customer, other = await login_as(Role.CUSTOMER), await login_as(Role.CUSTOMER)

    me = await client.get(f"{USERS}/me", headers=customer.headers)
    by_id = await client.get(f"{USERS}/{customer.id}", headers=customer.headers)
    someone_else = await client.get(f"{USERS}/{other.id}", headers=customer.headers)

    assert me.json()["email"] == customer.email
    assert by_id.json() == me.json()
    assert someone_else.status_code == 403


async def test_users_edit_their_own_name_and_phone(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    customer = await login_as(Role.CUSTOMER)

    response = await client.put(
        f"{USERS}/{customer.id}",
        headers=customer.headers,
        json={"full_name": "  Chidi Okafor ", "phone": "+234 701 000 0000"},
    )

    assert response.status_code == 200
    assert response.json()["full_name"] == "Chidi Okafor"
    assert response.json()["phone"] == "+234 701 000 0000"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"role": "admin"}, id="role"),
        pytest.param({"is_active": False}, id="is_active"),
        pytest.param({"email": "new@example.com"}, id="email"),
        pytest.param({"password_hash": "$argon2id$forged"}, id="password_hash"),
        pytest.param({"full_name": "Fine", "role": "officer"}, id="allowed-with-forbidden"),
    ],
)
async def test_mass_assignment_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, login_as: LoginAs, change: dict[str, object]
) -> None:
    customer = await login_as(Role.CUSTOMER)
    before = (await client.get(f"{USERS}/me", headers=customer.headers)).json()

    response = await client.put(f"{USERS}/{customer.id}", headers=customer.headers, json=change)

    assert response.status_code == 422
    after = await client.get(f"{USERS}/me", headers=customer.headers)
    assert after.json() == before


async def test_admins_cannot_change_their_own_role_or_deactivate_themselves(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)

    demote = await client.put(
        f"{USERS}/{admin.id}", headers=admin.headers, json={"role": "officer"}
    )
    delete = await client.delete(f"{USERS}/{admin.id}", headers=admin.headers)

    assert demote.status_code == 422
    assert demote.json()["error"]["code"] == "own_account_change"
    assert delete.status_code == 422
    assert (await client.get(f"{USERS}/me", headers=admin.headers)).json()["role"] == "admin"


async def test_promotion_takes_effect_after_signing_in_again(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)

    await client.put(f"{USERS}/{officer.id}", headers=admin.headers, json={"role": "admin"})
    login = await client.post(
        "/api/v1/auth/login", json={"email": officer.email, "password": officer.password}
    )
    token = login.json()["access_token"]
    listed = await client.get(USERS, headers={"Authorization": f"Bearer {token}"})

    assert listed.status_code == 200


async def test_an_admin_sets_a_forgotten_password_and_the_users_sessions_end(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    new_password = {"new_password": "back in the field today"}

    weak = await client.post(
        f"{USERS}/{officer.id}/password", headers=admin.headers, json={"new_password": "short"}
    )
    by_officer = await client.post(
        f"{USERS}/{admin.id}/password", headers=officer.headers, json=new_password
    )
    nobody = await client.post(
        f"{USERS}/{uuid.uuid4()}/password", headers=admin.headers, json=new_password
    )
    reset = await client.post(
        f"{USERS}/{officer.id}/password", headers=admin.headers, json=new_password
    )

    assert weak.status_code == 422
    assert by_officer.status_code == 403
    assert nobody.status_code == 404
    assert reset.status_code == 204
    assert (await client.get(f"{USERS}/me", headers=officer.headers)).status_code == 401
    for password, status in ((officer.password, 401), (new_password["new_password"], 200)):
        login = await client.post(
            "/api/v1/auth/login", json={"email": officer.email, "password": password}
        )
        assert login.status_code == status
    assert (await client.get(f"{USERS}/me", headers=admin.headers)).status_code == 200


async def test_an_api_key_cannot_set_passwords(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    key = await client.post(
        "/api/v1/api-keys", headers=admin.headers, json={"name": "script", "scope": "write"}
    )

    answer = await client.post(
        f"{USERS}/{officer.id}/password",
        headers={"X-API-Key": key.json()["key"]},
        json={"new_password": "taken over by a script"},
    )

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "interactive_login_required"
