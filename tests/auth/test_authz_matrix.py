"""The authorization matrix: tests/auth/authz_matrix.csv says, for every route and every role,
which status a request gets. Path parameters are ids that exist nowhere and bodies are `{}`,
so an allowed caller typically gets 404 or 422 and a refused one 401 or 403.

A route missing from the file fails the run, with rows to review and paste; every domain adds
its routes' rows when it adds routes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.auth.route_walk import Endpoint, api_endpoints
from tests.auth_fixtures import LoggedInUser, LoginAs, new_session_headers

from bazaar.auth.roles import Role

MATRIX = Path(__file__).with_name("authz_matrix.csv")
ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, *(role.value for role in Role))
Key = tuple[str, str, str]


def load_matrix() -> dict[Key, int]:
    with MATRIX.open(newline="") as handle:
        return {
            (row["method"], row["path"], row["role"]): int(row["expected_status"])
            for row in csv.DictReader(handle)
        }


@pytest.fixture
async def users(login_as: LoginAs) -> dict[str, LoggedInUser]:
    return {role.value: await login_as(role) for role in Role}


async def status_for(
    app: FastAPI,
    client: httpx.AsyncClient,
    users: dict[str, LoggedInUser],
    endpoint: Endpoint,
    role: str,
) -> int:
    # A session of its own per request: the matrix includes logout.
    headers = {} if role == ANONYMOUS else await new_session_headers(app.state, users[role])
    body: dict[str, object] | None = {} if endpoint.method in {"POST", "PUT", "PATCH"} else None
    response = await client.request(endpoint.method, endpoint.url(), headers=headers, json=body)
    return response.status_code


async def test_the_matrix_covers_every_route_for_every_role(
    app: FastAPI, client: httpx.AsyncClient, users: dict[str, LoggedInUser]
) -> None:
    matrix = load_matrix()
    endpoints = {(e.method, e.path): e for e in api_endpoints(app)}
    expected = {(m, p, r) for m, p in endpoints for r in ROLES}
    stale = sorted(set(matrix) - expected)
    missing = sorted(expected - set(matrix))
    suggestions = [
        f"{m},{p},{r},{await status_for(app, client, users, endpoints[(m, p)], r)}"
        for m, p, r in missing
    ]

    assert stale == [], "rows for routes that no longer exist"
    assert not suggestions, (
        "routes missing from authz_matrix.csv; review these observed rows:\n"
        + ("\n".join(suggestions))
    )


async def test_every_role_gets_the_status_the_matrix_says(
    app: FastAPI, client: httpx.AsyncClient, users: dict[str, LoggedInUser]
) -> None:
    matrix = load_matrix()
    mismatches = {}
    for endpoint in api_endpoints(app):
        for role in ROLES:
            expected = matrix.get((endpoint.method, endpoint.path, role))
            if expected is None:
                continue  # reported by the coverage test
            actual = await status_for(app, client, users, endpoint, role)
            if actual != expected:
                mismatches[f"{endpoint.method} {endpoint.path} as {role}"] = (expected, actual)

    assert mismatches == {}
