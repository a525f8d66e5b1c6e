"""Every failure leaves in one body shape with the request id, at the right status."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Message, Receive, Scope, Send

from bazaar.auth.roles import Role
from bazaar.errors import ConflictError, RateLimitedError, error_responses
from bazaar.main import create_app
from bazaar.middleware import TrustedHostMiddleware
from tests.auth_fixtures import LoginAs
from tests.backends import Backend


class Widget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


class WidgetJammed(ConflictError):
    code = "widget_jammed"


@pytest.fixture
def app_with_routes(app: FastAPI) -> FastAPI:
    @app.post("/widgets", responses=error_responses(WidgetJammed))
    async def create_widget(widget: Widget) -> Widget:
        return widget

    @app.post("/jammed")
    async def jammed() -> None:
        raise WidgetJammed("stuck", details={"allowed": ["unjam"]})

    @app.get("/slow-down")
    async def slow_down() -> None:
        raise RateLimitedError(retry_after=7)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


async def test_unknown_route_is_404_in_error_body(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/nope"), 404, "not_found")


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/health"), 405, "method_not_allowed")


async def test_validation_error_names_the_fields(
    app_with_routes: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post("/widgets", json={"name": "", "count": -1, "colour": "red"})
    body = assert_error(response, 422, "validation_error")
    locs = {tuple(f["loc"]) for f in body["error"]["details"]["fields"]}  # type: ignore[index]
    assert {("body", "name"), ("body", "count"), ("body", "colour")} <= locs


async def test_malformed_json_is_422_not_500(
    app_with_routes: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/widgets", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/x-www-form-urlencoded"},  # what `curl -d` sends
        {"Content-Type": "text/plain"},
        {},
    ],
)
async def test_a_body_not_sent_as_json_is_415_saying_so(
    app_with_routes: FastAPI, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/widgets", content=b'{"name": "a", "count": 1}', headers=headers)

    body = assert_error(response, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in body["error"]["message"]  # type: ignore[index]
    assert body["error"]["details"] == {"content_type": headers.get("Content-Type")}  # type: ignore[index]


async def test_the_readme_api_key_example_needs_its_content_type(
    client: httpx.AsyncClient, login_as: LoginAs
) -> None:
    admin = await login_as(Role.ADMIN)
    officer = await login_as(Role.OFFICER)
    listed = await client.get("/api/v1/users", params={"role": "officer"}, headers=admin.headers)
    body = json.dumps(
        {"name": "Asha laptop", "scope": "sync", "owner_id": listed.json()["items"][0]["id"]}
    )
    form_encoded = {**admin.headers, "Content-Type": "application/x-www-form-urlencoded"}
    as_json = {**admin.headers, "Content-Type": "application/json"}

    without = await client.post("/api/v1/api-keys", content=body, headers=form_encoded)
    with_it = await client.post("/api/v1/api-keys", content=body, headers=as_json)

    assert_error(without, 415, "unsupported_media_type")
    assert with_it.status_code == 201
    assert with_it.json()["owner_id"] == str(officer.id)


async def test_form_routes_still_take_forms(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"username": "nobody@example.com", "password": "not it"}
    )

    assert_error(response, 401, "invalid_credentials")


async def test_app_error_carries_code_and_details(
    app_with_routes: FastAPI, client: httpx.AsyncClient
) -> None:
    body = assert_error(await client.post("/jammed"), 409, "widget_jammed")
    assert body["error"] == {
        "code": "widget_jammed",
        "message": "stuck",
        "details": {"allowed": ["unjam"]},
    }


async def test_rate_limited_sets_retry_after(
    app_with_routes: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/slow-down")
    assert_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "7"


async def test_unexpected_exception_is_500_without_internals(app_with_routes: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app_with_routes, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/boom", headers={"X-Request-ID": "trace-me-123"})
    body = assert_error(response, 500, "internal_error")
    assert body["request_id"] == "trace-me-123"
    assert "secret" not in response.text


async def test_declared_oversized_body_is_413_before_reading(
    app_with_routes: FastAPI, client: httpx.AsyncClient
) -> None:
    big = b"x" * (1_048_576 + 1)
    response = await client.post(
        "/widgets", content=big, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


async def test_streamed_oversized_body_is_413(
    app_with_routes: FastAPI, client: httpx.AsyncClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65_536

    response = await client.post(
        "/widgets", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


async def test_sane_request_id_is_echoed_and_insane_one_replaced(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    replaced = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["X-Request-ID"] != "bad id\twith spaces"
    assert len(replaced.headers["X-Request-ID"]) == 32


async def test_error_responses_documented_in_openapi(
    app_with_routes: FastAPI, client: httpx.AsyncClient
) -> None:
    schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"]["/widgets"]["post"]["responses"]
    assert "widget_jammed" in responses["409"]["description"]
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")


async def test_an_untrusted_host_is_400_in_the_error_body(backend: Backend) -> None:
    settings = backend.settings(trusted_hosts=["api.example.com", "*.example.org"])
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            served = [
                (await http.get("/health", headers={"Host": host})).status_code
                for host in ("api.example.com", "API.example.com:8443", "eu.example.org")
            ]
            refused = [
                await http.get("/health", headers={"Host": host})
                for host in ("example.org", "evil.com", "api.example.com.evil.com", "")
            ]

    assert served == [200, 200, 200]
    for answer in refused:
        assert_error(answer, 400, "invalid_host")


async def test_a_socket_from_an_untrusted_host_is_closed_at_the_handshake() -> None:
    reached: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["type"])

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    guard = TrustedHostMiddleware(app, ["api.example.com"])
    for host in (b"evil.com", b"api.example.com"):
        scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", host)]}
        await guard(scope, receive, send)

    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert reached == ["websocket"]
