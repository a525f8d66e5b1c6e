"""Admins' CRM connections: secrets are write-only, `/test` checks auth and every resource,
refused credentials park the connection, and workers share one token renewal."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI

from bazaar.crm.client import CRMAuthError
from bazaar.crm.connections import client_for, get_connection
from bazaar.db import unit_of_work
from tests.conftest import free_port
from tests.crm.conftest import Crm
from tests.crm.fake_crm import FakeServer


def _jwt_body(server: FakeServer, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Company CRM",
        "base_url": server.url,
        "auth_type": "jwt",
        "username": server.crm.username,
        "password": server.crm.password,
        "rate_limit_per_minute": 600,
        **fields,
    }


async def test_secrets_are_accepted_and_never_returned(crm: Crm, fake_crm: FakeServer) -> None:
    made = await crm.create("crm/connections", crm.admin, **_jwt_body(fake_crm))
    listed = await crm.get("crm/connections", crm.admin)
    by_officer = await crm.get("crm/connections", crm.officer)

    assert made["has_password"] is True
    assert made["status"] == "active"
    assert fake_crm.crm.password not in str(made) + listed.text
    assert by_officer.status_code == 403


async def test_the_client_side_rate_limit_can_be_turned_off_and_on(
    crm: Crm, fake_crm: FakeServer
) -> None:
    made = await crm.create("crm/connections", crm.admin, **_jwt_body(fake_crm))
    url = f"crm/connections/{made['id']}"
    off = await crm.send("PUT", url, crm.admin, version=made["version"], rate_limit_per_minute=None)
    assert (off.status_code, off.json()["rate_limit_per_minute"]) == (200, None), off.text
    untouched = await crm.send("PUT", url, crm.admin, version=off.json()["version"], max_retries=2)
    assert untouched.json()["rate_limit_per_minute"] is None  # left out: stays off
    on = await crm.send(
        "PUT", url, crm.admin, version=untouched.json()["version"], rate_limit_per_minute=30
    )
    assert on.json()["rate_limit_per_minute"] == 30
    never = await crm.create(
        "crm/connections",
        crm.admin,
        **_jwt_body(fake_crm, name="Unlimited", rate_limit_per_minute=None),
    )
    assert never["rate_limit_per_minute"] is None


async def test_each_auth_type_needs_its_credentials(crm: Crm, fake_crm: FakeServer) -> None:
    missing = await crm.send(
        "POST", "crm/connections", crm.admin, **_jwt_body(fake_crm, password=None)
    )
    oauth = await crm.send(
        "POST",
        "crm/connections",
        crm.admin,
        name="OAuth CRM",
        base_url=fake_crm.url,
        auth_type="oauth",
        client_id="x",
    )
    duplicate = await crm.send("POST", "crm/connections", crm.admin, **_jwt_body(fake_crm))
    again = await crm.send("POST", "crm/connections", crm.admin, **_jwt_body(fake_crm))

    assert missing.status_code == oauth.status_code == 422
    assert duplicate.status_code == 201
    assert again.status_code == 409


@pytest.mark.parametrize("auth", ["jwt", "oauth", "api_key"])
async def test_the_health_check_reaches_every_resource(
    crm: Crm, fake_crm: FakeServer, auth: str
) -> None:
    body = {
        "jwt": _jwt_body(fake_crm),
        "oauth": {
            "name": "OAuth CRM",
            "base_url": fake_crm.url,
            "auth_type": "oauth",
            "token_url": f"{fake_crm.url}/oauth/token",
            "client_id": fake_crm.crm.client_id,
            "client_secret": fake_crm.crm.client_secret,
        },
        "api_key": {
            "name": "Keyed CRM",
            "base_url": fake_crm.url,
            "auth_type": "api_key",
            "api_key": fake_crm.crm.api_key,
        },
    }[auth]
    made = await crm.create("crm/connections", crm.admin, **body)

    check = await crm.send("POST", f"crm/connections/{made['id']}/test", crm.admin)

    assert check.status_code == 200, check.text
    assert check.json()["ok"] is True
    assert set(check.json()["resources"]) == {"users", "clients", "projects", "tasks", "comments"}


async def test_refused_credentials_park_the_connection_until_an_admin_fixes_them(
    app: FastAPI, crm: Crm, fake_crm: FakeServer
) -> None:
    made = await crm.create("crm/connections", crm.admin, **_jwt_body(fake_crm, password="bad"))

    check = (await crm.send("POST", f"crm/connections/{made['id']}/test", crm.admin)).json()
    parked = (await crm.get(f"crm/connections/{made['id']}", crm.admin)).json()
    runtime = app.state.runtime
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        row = await get_connection(session=session, connection_id=uuid.UUID(made["id"]))
    logins = fake_crm.crm.counts["logins"]
    with pytest.raises(CRMAuthError):
        client_for(runtime.db, runtime.events, row)
    sent_while_parked = fake_crm.crm.counts["logins"] - logins
    fixed = await crm.send(
        "PUT",
        f"crm/connections/{made['id']}",
        crm.admin,
        version=parked["version"],
        password=fake_crm.crm.password,
    )
    retest = (await crm.send("POST", f"crm/connections/{made['id']}/test", crm.admin)).json()

    assert check["ok"] is False
    assert check["auth"]["status"] == 401
    assert parked["status"] == "auth_failed"
    assert sent_while_parked == 0
    assert fixed.json()["status"] == "active"
    assert retest["ok"] is True


async def test_two_workers_renew_an_expired_token_once(
    app: FastAPI, crm: Crm, fake_crm: FakeServer
) -> None:
    made = await crm.create("crm/connections", crm.admin, **_jwt_body(fake_crm))
    runtime = app.state.runtime
    async with unit_of_work(runtime.db, runtime.events, read_only=True) as session:
        row = await get_connection(session=session, connection_id=uuid.UUID(made["id"]))
        session.expunge(row)
    first = client_for(runtime.db, runtime.events, row)
    second = client_for(runtime.db, runtime.events, row)  # another worker: its own locks
    async with first, second:
        await first.list("clients")
        fake_crm.crm.expire_tokens()
        await asyncio.gather(*(c.list("clients") for c in (first, second) for _ in range(5)))

    assert fake_crm.crm.counts["logins"] == 1
    assert fake_crm.crm.counts["refreshes"] == 1


async def test_an_unreachable_or_broken_crm_is_reported_not_a_server_error(
    crm: Crm, fake_crm: FakeServer
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    gone = await crm.create(
        "crm/connections", crm.admin, **_jwt_body(fake_crm, base_url=closed, max_retries=0)
    )
    broken = await crm.create(
        "crm/connections", crm.admin, **_jwt_body(fake_crm, name="Broken", max_retries=0)
    )
    fake_crm.crm.behaviour.garbage.extend(["not json"] * 5)

    unreachable = await crm.send("POST", f"crm/connections/{gone['id']}/test", crm.admin)
    garbled = await crm.send("POST", f"crm/connections/{broken['id']}/test", crm.admin)

    assert unreachable.status_code == 200
    assert unreachable.json()["ok"] is False
    assert "unreachable" in unreachable.json()["auth"]["error"]
    assert garbled.status_code == 200
    assert garbled.json()["auth"]["ok"] is True
    assert not any(check["ok"] for check in garbled.json()["resources"].values())
