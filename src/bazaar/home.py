"""What a person finds on the server: `GET /` (where everything is), `/docs` and `/redoc`, whose
scripts and styles are served from the package (`static/`), so they work on a field laptop
without internet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from bazaar import __version__
from bazaar.api import api_router

DOCS = "/docs"
REDOC = "/redoc"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
STATIC = "/static"
SWAGGER_JS = f"{STATIC}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{STATIC}/swagger-ui/swagger-ui.css"
REDOC_JS = f"{STATIC}/redoc/redoc.standalone.js"
FAVICON = f"{STATIC}/swagger-ui/favicon-32x32.png"

# Guides in Bazaar's source tree, for what the schema cannot say.
GUIDES = {
    "readme": "README.md",
    "api": "docs/api.md",
    "realtime": "docs/realtime.md",
    "sync": "docs/sync-protocol.md",
    "operations": "docs/operations.md",
}

router = APIRouter()


class Links(BaseModel):
    model_config = ConfigDict(extra="forbid")

    docs: str = Field(description="Swagger UI: try every endpoint")
    redoc: str = Field(description="ReDoc: the same schema, for reading")
    openapi: str = Field(description="The OpenAPI schema")
    health: str = Field(description="Liveness")
    ready: str = Field(description="Readiness: database and Redis")
    metrics: str = Field(description="Prometheus metrics")
    websocket: str = Field(description="Realtime notifications (WebSocket)")


class ApiInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    api_prefix: str = Field(description="Every JSON endpoint lives under it")
    links: Links
    documentation: dict[str, str] = Field(description="Guides, as paths in the source tree")


def _prefix(request: Request) -> str:
    """Behind a proxy that serves the app under a path, every local URL starts with it."""
    root_path: str = request.scope.get("root_path", "")
    return root_path.rstrip("/")


@router.get(
    "/", tags=["operations"], summary="Where everything is: docs, schema, health, WebSocket"
)
async def api_info(request: Request) -> ApiInfo:
    """Open `links.docs` in a browser to try the API."""
    app: FastAPI = request.app
    base = _prefix(request)
    return ApiInfo(
        name=app.title,
        version=__version__,
        api_prefix=base + api_router.prefix,
        links=Links(
            docs=base + DOCS,
            redoc=base + REDOC,
            openapi=f"{base}{app.openapi_url}",
            health=f"{base}/health",
            ready=f"{base}/health/ready",
            metrics=f"{base}/metrics",
            websocket=f"{base}/ws",
        ),
        documentation=GUIDES,
    )


@router.get(DOCS, include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    base = _prefix(request)
    return get_swagger_ui_html(
        openapi_url=f"{base}{app.openapi_url}",
        title=f"{app.title} - Swagger UI",
        swagger_js_url=base + SWAGGER_JS,
        swagger_css_url=base + SWAGGER_CSS,
        swagger_favicon_url=base + FAVICON,
        oauth2_redirect_url=base + OAUTH2_REDIRECT,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=app.swagger_ui_parameters,
    )


@router.get(OAUTH2_REDIRECT, include_in_schema=False)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC, include_in_schema=False)
async def redoc(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    base = _prefix(request)
    return get_redoc_html(
        openapi_url=f"{base}{app.openapi_url}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=base + REDOC_JS,
        redoc_favicon_url=base + FAVICON,
        with_google_fonts=False,
    )


def install(app: FastAPI) -> None:
    """Mount the pages and their assets; the app is created with `docs_url=None, redoc_url=None`
    so FastAPI's own pages, which load from a CDN, are not there too."""
    app.mount(STATIC, StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    app.include_router(router)
