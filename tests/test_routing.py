"""`bazaar.routing.Route`: the errors a route's dependencies raise are in its schema."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from limits import parse_many

from bazaar.auth.context import auth_context
from bazaar.auth.roles import Role
from bazaar.errors import ERROR_CODES
from tests.auth.route_walk import api_endpoints
from tests.auth_fixtures import LoginAs

MATRIX = Path(__file__).parent / "auth" / "authz_matrix.csv"


async def _operations(client: httpx.AsyncClient) -> dict[tuple[str, str], dict[str, Any]]:
    schema = (await client.get("/openapi.json")).json()
    return {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


def _codes(operation: dict[str, Any], status: int) -> set[str]:
    return set(operation["responses"].get(str(status), {}).get(ERROR_CODES, ()))


async def test_every_status_the_authorization_matrix_observes_is_documented(
    client: httpx.AsyncClient,
) -> None:
    operations = await _operations(client)
    with MATRIX.open(newline="") as rows:
        undocumented = {
            (row["method"], row["path"], row["expected_status"])
            for row in csv.DictReader(rows)
            if row["expected_status"] not in operations[(row["method"], row["path"])]["responses"]
        }

    assert undocumented == set()


async def test_authenticated_routes_document_what_authentication_raises(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    operations = await _operations(client)
    for endpoint in api_endpoints(app):
        operation = operations[(endpoint.method, endpoint.path)]
        responses = operation["responses"]
        if not endpoint.protected:
            assert "unauthorized" not in _codes(operation, 401), endpoint
            continue
        assert {"unauthorized", "invalid_token"} <= _codes(operation, 401), endpoint
        assert "insufficient_scope" in _codes(operation, 403), endpoint
        assert "rate_limited" in _codes(operation, 429), endpoint
        assert responses["401"]["headers"]["WWW-Authenticate"]["schema"] == {"type": "string"}
        assert responses["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
        assert responses["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorBody"
        )


async def test_role_and_password_checks_are_documented_and_merged_with_the_routes_own(
    client: httpx.AsyncClient,
) -> None:
    operations = await _operations(client)

    approve = operations[("POST", "/api/v1/loans/{loan_id}/approve")]
    assert _codes(approve, 403) == {"insufficient_role", "insufficient_scope", "maker_checker"}
    assert (
        (approve["responses"]["403"]["description"])
        == "Error codes: insufficient_role, insufficient_scope, maker_checker"
    )
    logout = operations[("POST", "/api/v1/auth/logout")]
    assert _codes(logout, 403) == {"insufficient_scope", "interactive_login_required"}
    assert "insufficient_role" not in _codes(operations[("GET", "/api/v1/auth/me")], 403)


async def test_a_body_that_cannot_be_read_is_400_where_a_route_reads_one(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    operations = await _operations(client)

    answer = await client.post(
        "/api/v1/customers/",
        content=b'{"full_name": "\xff"}',
        headers={**officer.headers, "Content-Type": "application/json"},
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"
    assert _codes(operations[("POST", "/api/v1/customers/")], 400) == {"bad_request"}
    assert "400" not in operations[("GET", "/api/v1/customers/")]["responses"]


async def test_the_per_user_limit_is_429_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = await login_as(Role.OFFICER)
    context = auth_context(app.state)
    rules = replace(context.rules, per_user=parse_many("2/minute"))
    monkeypatch.setattr(app.state, "auth", replace(context, rules=rules))

    answers = [await client.get("/api/v1/loans/", headers=officer.headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) >= 1
