from __future__ import annotations

import httpx

from tests.backends import Backend


async def test_liveness_answers_without_io(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readiness_checks_database_and_redis_when_configured(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "up"
    assert ("redis" in checks) == (backend.redis_url is not None)


async def test_readiness_is_503_when_the_database_is_down(backend: Backend) -> None:
    from bazaar.main import create_app

    broken = backend.settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["status"] == "down"
