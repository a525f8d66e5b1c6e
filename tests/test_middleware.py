"""One spelling of every path: `/loans/` is served as `/loans`, never redirected."""

from __future__ import annotations

import httpx

from bazaar.auth.roles import Role
from tests.auth_fixtures import LoginAs


async def test_the_schema_spells_no_path_with_a_trailing_slash(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    # The root is the one path that is only a slash: it has no other spelling.
    assert [path for path in paths if path.endswith("/") and path != "/"] == []
    assert {"/api/v1/loans", "/api/v1/customers", "/api/v1/payments", "/api/v1/users"} <= set(paths)


async def test_both_spellings_are_served_without_a_redirect(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin, officer = await login_as(Role.ADMIN), await login_as(Role.OFFICER)
    customer = {"full_name": "Asha Traders", "phone": "+91 98765 43210"}

    reads = [
        await client.get(path, headers=admin.headers)
        for path in ("/api/v1/users", "/api/v1/users/", "/api/v1/loans", "/api/v1/loans/")
    ]
    writes = [
        await client.post(path, json=customer, headers=officer.headers)
        for path in ("/api/v1/customers", "/api/v1/customers/")
    ]
    missing = await client.get("/api/v1/nothing/", headers=admin.headers)

    assert [a.status_code for a in reads] == [200, 200, 200, 200]
    assert reads[0].json() == reads[1].json()
    assert [a.status_code for a in writes] == [201, 201]
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_metrics_label_the_other_spelling_by_its_route(client: httpx.AsyncClient) -> None:
    await client.get("/health/")

    text = (await client.get("/metrics")).text

    assert 'bazaar_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
