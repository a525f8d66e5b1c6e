"""Every domain router under /api/v1: the whole API on one screen."""

from __future__ import annotations

from fastapi import APIRouter

from bazaar.auth import router as auth
from bazaar.errors import error_responses
from bazaar.lending import router as lending
from bazaar.realtime import router as realtime
from bazaar.sync import router as sync

api_router = APIRouter(prefix="/api/v1", responses=error_responses())
api_router.include_router(auth.router)
api_router.include_router(lending.router)
api_router.include_router(realtime.router)
api_router.include_router(sync.router)
api_router.include_router(sync.dashboard)
