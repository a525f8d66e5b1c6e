from __future__ import annotations

import httpx


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await client.get("/no/such/path/42")
    text = (await client.get("/metrics")).text
    assert 'bazaar_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "/no/such/path/42" not in text
    assert 'bazaar_http_request_duration_seconds_count{method="GET",route="/health"} 1.0' in text
