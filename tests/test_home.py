"""What a person opening the server finds: where everything is, and docs pages that load on a
laptop without internet."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

import bazaar


class Links(HTMLParser):
    """Every URL a page makes the browser fetch: `src`, `href` and ReDoc's `spec-url`."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in {"src", "href", "spec-url"} and v]


def fetched_by(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    # Swagger UI's config names the schema in its inline script.
    return parser.urls + re.findall(r"url: '([^']+)'", html)


CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_everything_from_the_server_itself(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)

    assert response.status_code == 200
    assert "http://" not in response.text
    assert "https://" not in response.text
    urls = fetched_by(response.text)
    assert any(url.endswith(".js") for url in urls)
    assert "/openapi.json" in urls
    for url in urls:
        assert re.match(r"/[^/]", url), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rfind(".") :]
        assert CONTENT_TYPES[suffix] in asset.headers["content-type"], url
        assert len(asset.content) > 0


async def test_the_swagger_sign_in_popup_returns_to_the_server(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    redirect = await client.get("/docs/oauth2-redirect")

    assert "/docs/oauth2-redirect" in docs.text
    assert redirect.status_code == 200
    assert "oauth2" in redirect.text


async def test_a_missing_asset_is_a_404_in_the_error_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/swagger-ui/nothing.js")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_the_root_says_where_everything_is(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    info = response.json()
    assert info["name"] == "Bazaar"
    assert info["version"] == bazaar.__version__
    assert info["api_prefix"] == "/api/v1"
    links = info["links"]
    assert links["websocket"] == "/ws"
    assert {"docs", "redoc", "openapi", "health", "ready"} <= set(links)
    for name, url in links.items():
        if name != "websocket":
            assert (await client.get(url)).status_code == 200, url
    assert info["documentation"]["api"] == "docs/api.md"
    checkout = Path(__file__).parents[1]
    assert all((checkout / guide).is_file() for guide in info["documentation"].values())
