"""What a browser finds on the server: `/docs` and `/redoc`, whose scripts and styles are served
from the package (`static/`), so they work on a field laptop without internet."""

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

DOCS = "/docs"
REDOC = "/redoc"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
STATIC = "/static"
SWAGGER_JS = f"{STATIC}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{STATIC}/swagger-ui/swagger-ui.css"
REDOC_JS = f"{STATIC}/redoc/redoc.standalone.js"
FAVICON = f"{STATIC}/swagger-ui/favicon-32x32.png"

router = APIRouter(include_in_schema=False)


def _prefix(request: Request) -> str:
    """Behind a proxy that serves the app under a path, every local URL starts with it."""
    root_path: str = request.scope.get("root_path", "")
    return root_path.rstrip("/")


@router.get(DOCS)
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


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC)
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
