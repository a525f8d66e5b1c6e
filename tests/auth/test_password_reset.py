"""A forgotten password, self-service: ask for a token, read it from the outbox, set a new one."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.auth.test_rate_limits import tighten
from tests.auth_fixtures import LoggedInUser, LoginAs

from bazaar.auth import password_reset
from bazaar.auth.events import SessionsEnded
from bazaar.auth.roles import Role
from bazaar.events import Event
from bazaar.stamps import utcnow

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
OUTBOX = "/api/v1/auth/outbox"
NEW_PASSWORD = "a fresh start at the market"


async def outbox(
    client: httpx.AsyncClient, admin: LoggedInUser, **params: str
) -> list[dict[str, Any]]:
    answer = await client.get(OUTBOX, headers=admin.headers, params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def token_in(message: dict[str, Any]) -> str:
    found = re.search(r"bzr_pr_[A-Za-z0-9_-]+", message["body"])
    assert found is not None, message["body"]
    return found.group()


async def reset_token(client: httpx.AsyncClient, admin: LoggedInUser, email: str) -> str:
    assert (await client.post(RESET, json={"email": email})).status_code == 202
    return token_in((await outbox(client, admin, recipient=email))[0])


async def signs_in(client: httpx.AsyncClient, email: str, password: str) -> int:
    answer = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return answer.status_code


async def test_a_forgotten_password_is_reset_with_the_token_from_the_outbox(
    client: httpx.AsyncClient, login_as: LoginAs, published_events: list[Event]
) -> None:
    admin, borrower = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)

    asked = await client.post(RESET, json={"email": borrower.email.upper()})
    [message] = await outbox(client, admin)
    confirmed = await client.post(
        CONFIRM, json={"token": token_in(message), "new_password": NEW_PASSWORD}
    )

    assert asked.status_code == 202
    assert "30 minutes" in asked.json()["message"]
    assert message["recipient"] == borrower.email
    assert message["user_id"] == str(borrower.id)
    assert message["kind"] == "password_reset"
    assert CONFIRM in message["body"]
    assert confirmed.status_code == 204
    assert await signs_in(client, borrower.email, NEW_PASSWORD) == 200
    assert await signs_in(client, borrower.email, borrower.password) == 401
    me = await client.get("/api/v1/auth/me", headers=borrower.headers)
    assert me.status_code == 401, "the session from before the reset still works"
    assert SessionsEnded(user_id=str(borrower.id), reason="password_reset") in published_events


async def test_the_answer_is_the_same_whether_or_not_the_account_exists(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, borrower = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)
    inactive = await login_as(Role.CUSTOMER)
    deactivated = await client.delete(f"/api/v1/users/{inactive.id}", headers=admin.headers)
    assert deactivated.status_code == 204

    answers = [
        await client.post(RESET, json={"email": email})
        for email in (borrower.email, "nobody@example.com", inactive.email)
    ]

    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    assert [m["recipient"] for m in await outbox(client, admin)] == [borrower.email]


async def test_a_token_works_once(client: httpx.AsyncClient, login_as: LoginAs) -> None:
    admin, borrower = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)
    token = await reset_token(client, admin, borrower.email)

    first = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    again = await client.post(CONFIRM, json={"token": token, "new_password": "yet another one"})

    assert first.status_code == 204
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "invalid_reset_token"
    assert await signs_in(client, borrower.email, NEW_PASSWORD) == 200


async def test_a_token_expires_after_30_minutes(
    client: httpx.AsyncClient, login_as: LoginAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, borrower = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)
    token = await reset_token(client, admin, borrower.email)
    monkeypatch.setattr(password_reset, "utcnow", lambda: utcnow() + timedelta(minutes=31))

    late = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})

    assert late.status_code == 422
    assert late.json()["error"]["code"] == "invalid_reset_token"
    assert await signs_in(client, borrower.email, borrower.password) == 200


async def test_the_new_password_follows_the_sign_up_rules_and_the_token_survives(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, borrower = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)
    token = await reset_token(client, admin, borrower.email)

    weak = await client.post(CONFIRM, json={"token": token, "new_password": "password1"})
    good = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})

    assert weak.status_code == 422
    assert "too common" in weak.text
    assert good.status_code == 204


async def test_unknown_tokens_are_refused(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        CONFIRM, json={"token": "bzr_pr_made-up", "new_password": NEW_PASSWORD}
    )

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_reset_token"


async def test_a_password_set_otherwise_retires_pending_tokens(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, borrower = await login_as(Role.ADMIN), await login_as(Role.CUSTOMER)
    token = await reset_token(client, admin, borrower.email)
    changed = await client.post(
        "/api/v1/auth/change-password",
        headers=borrower.headers,
        json={"current_password": borrower.password, "new_password": NEW_PASSWORD},
    )

    late = await client.post(CONFIRM, json={"token": token, "new_password": "someone else's"})

    assert changed.status_code == 200
    assert late.status_code == 422
    assert await signs_in(client, borrower.email, NEW_PASSWORD) == 200


async def test_requests_are_limited_per_address(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tighten(app, monkeypatch, reset_address="3/hour")

    statuses = [
        (await client.post(RESET, json={"email": f"u{n}@example.com"})).status_code
        for n in range(4)
    ]

    assert statuses == [202] * 3 + [429]


async def test_only_admins_signed_in_with_a_password_read_the_outbox(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    key = await client.post(
        "/api/v1/api-keys", headers=admin.headers, json={"name": "console", "scope": "write"}
    )

    as_officer = await client.get(OUTBOX, headers=officer.headers)
    by_key = await client.get(OUTBOX, headers={"X-API-Key": key.json()["key"]})

    assert as_officer.status_code == 403
    assert by_key.status_code == 403
    assert by_key.json()["error"]["code"] == "interactive_login_required"
