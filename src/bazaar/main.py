"""The application factory: lifespan, middleware, error handlers and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from bazaar import __version__, home
from bazaar.api import api_router
from bazaar.config import Settings, get_settings
from bazaar.errors import install_error_handlers
from bazaar.jobs import all_jobs
from bazaar.middleware import (
    BodySizeLimitMiddleware,
    TrailingSlashMiddleware,
    TrustedHostMiddleware,
)
from bazaar.models import Base  # noqa: F401 - every mapper, before the first request
from bazaar.observability import health, metrics
from bazaar.observability.logging import configure_logging
from bazaar.observability.requests import RequestIdMiddleware
from bazaar.realtime import router as realtime_router
from bazaar.realtime import service as realtime
from bazaar.runtime import Runtime
from bazaar.scheduler import Scheduler

DESCRIPTION = """
Backend of an MSME marketplace platform: lending, offline-first sync, realtime notifications,
CRM, commerce and marketplace. Every error answers with
`{"error": {"code", "message", "details"}, "request_id"}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app_metrics = metrics.Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.create(settings)
        runtime.registry = app_metrics.registry
        app.state.runtime = runtime
        hub = await realtime.start_hub(runtime, app_metrics.registry)
        scheduler = Scheduler(runtime, all_jobs()) if settings.scheduler_enabled else None
        if scheduler is not None:
            await scheduler.start()
        try:
            yield
        finally:
            await hub.close()
            if scheduler is not None:
                await scheduler.shutdown()
            await runtime.close()

    app = FastAPI(
        title="Bazaar",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # served by `home`, from the package rather than a CDN
        redoc_url=None,
    )
    app.state.metrics = app_metrics
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(api_router)
    app.include_router(realtime_router.ws_router)
    home.install(app)

    # Added innermost first: the request id wraps everything, so every answer carries one.
    app.add_middleware(TrailingSlashMiddleware)
    if settings.trusted_hosts != ["*"]:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(metrics.MetricsMiddleware, metrics=app_metrics)
    app.add_middleware(RequestIdMiddleware)
    return app
