"""Every router under /api/v1: the whole API on one screen (the domains' from `domains.py`)."""

from __future__ import annotations

from fastapi import APIRouter

from bazaar import domains
from bazaar.auth import router as auth
from bazaar.errors import error_responses
from bazaar.realtime import router as realtime
from bazaar.sync import router as sync

api_router = APIRouter(prefix="/api/v1", responses=error_responses())
api_router.include_router(auth.router)
for domain_router in domains.routers():
    api_router.include_router(domain_router)
api_router.include_router(realtime.router)
api_router.include_router(sync.router)
api_router.include_router(sync.dashboard)
