"""Imports every model so Alembic and the mappers see the whole schema: the platform's here,
the domains' through `domains.py`."""

from bazaar import domains, idempotency
from bazaar.auth import models as auth_models
from bazaar.db import Base
from bazaar.leader import LeaderLease
from bazaar.sync import models as sync_models

__all__ = ["Base", "LeaderLease", "auth_models", "domains", "idempotency", "sync_models"]
