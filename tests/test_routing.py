"""`bazaar.routing.Route`: the errors a route's dependencies raise are in its schema."""

from __future__ import annotations

import csv
import re
import uuid
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
        "/api/v1/customers",
        content=b'{"full_name": "\xff"}',
        headers={**officer.headers, "Content-Type": "application/json"},
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"
    assert _codes(operations[("POST", "/api/v1/customers")], 400) == {"bad_request"}
    assert "400" not in operations[("GET", "/api/v1/customers")]["responses"]


async def test_the_per_user_limit_is_429_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient, login_as: LoginAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = await login_as(Role.OFFICER)
    context = auth_context(app.state.runtime)
    rules = replace(context.rules, per_user=parse_many("2/minute"))
    monkeypatch.setattr(app.state.runtime, "auth", replace(context, rules=rules))

    answers = [await client.get("/api/v1/loans/", headers=officer.headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) >= 1


def _filled(path: str) -> str:
    """The path with every parameter filled: a UUID for ids, a word for the others."""
    return re.sub(r"\{(\w+)\}", lambda m: str(uuid.uuid4()) if m[1].endswith("id") else "x", path)


async def test_a_wrong_method_is_405_with_every_method_the_path_has(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    allowed = {
        path: ", ".join(sorted(m.upper() for m in item)) for path, item in schema["paths"].items()
    }

    answers = {path: await client.request("TRACE", _filled(path)) for path in allowed}

    assert {path: a.status_code for path, a in answers.items()} == dict.fromkeys(allowed, 405)
    assert {path: a.headers["Allow"] for path, a in answers.items()} == allowed
    assert {a.json()["error"]["code"] for a in answers.values()} == {"method_not_allowed"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/v1/api-keys", "GET, POST"),
        ("GET", "/api/v1/loans/schedule-preview", "POST"),
        ("PUT", "/api/v1/users/me", "GET"),
    ],
)
async def test_a_literal_path_is_not_taken_for_an_id(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    answer = await client.request(method, path)

    assert answer.status_code == 405
    assert answer.headers["Allow"] == allow
    assert answer.json()["error"]["code"] == "method_not_allowed"


async def test_an_id_that_is_no_uuid_names_no_resource(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    officer = await login_as(Role.OFFICER)
    loan_id = str(uuid.uuid4())

    not_an_id = await client.get("/api/v1/loans/not-a-loan", headers=officer.headers)
    upper_case = await client.get(f"/api/v1/loans/{loan_id.upper()}", headers=officer.headers)

    assert not_an_id.status_code == 404
    assert not_an_id.json()["error"]["code"] == "not_found"
    assert upper_case.status_code == 404
    assert upper_case.json()["error"]["code"] == "loan_not_found"
