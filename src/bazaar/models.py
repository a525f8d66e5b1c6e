"""Imports every domain's models so Alembic and the mappers see the whole schema."""

from bazaar import idempotency
from bazaar.auth import models as auth_models
from bazaar.db import Base
from bazaar.leader import LeaderLease
from bazaar.lending import models as lending_models
from bazaar.sync import models as sync_models

__all__ = ["Base", "LeaderLease", "auth_models", "idempotency", "lending_models", "sync_models"]
