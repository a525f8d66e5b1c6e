"""Liveness (no I/O) and readiness (database and, when configured, Redis)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

router = APIRouter(tags=["operations"])


class Liveness(BaseModel):
    status: Literal["ok"]
    version: str


class Check(BaseModel):
    status: Literal["up", "down"]
    latency_ms: float
    error: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]


@router.get("/health", response_model=Liveness, summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    """200 while the process serves requests; checks nothing else (for a liveness probe)."""
    from bazaar import __version__

    return {"status": "ok", "version": __version__}


async def _timed(probe: Callable[[], Awaitable[Any]]) -> Check:
    started = time.perf_counter()
    try:
        await probe()
    except Exception as exc:  # any failure means "down"; the reason is reported, not raised
        return Check(status="down", latency_ms=_ms(started), error=type(exc).__name__)
    return Check(status="up", latency_ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


@router.get(
    "/health/ready",
    response_model=Readiness,
    summary="Readiness: database and Redis reachable",
    responses={503: {"model": Readiness, "description": "A dependency is down"}},
)
async def ready(request: Request) -> JSONResponse:
    """200 when the database (and Redis, when configured) answer, with each one's latency; 503
    naming what is down (for a readiness probe or a load balancer)."""
    state = request.app.state

    async def database() -> None:
        async with state.runtime.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    checks = {"database": await _timed(database)}
    if state.runtime.redis is not None:
        checks["redis"] = await _timed(state.runtime.redis.ping)
    all_up = all(check.status == "up" for check in checks.values())
    body = Readiness(status="ready" if all_up else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if all_up else 503)
