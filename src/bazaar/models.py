"""Imports every domain's models so Alembic and the mappers see the whole schema."""

from bazaar.auth import models as auth_models
from bazaar.db import Base
from bazaar.leader import LeaderLease

__all__ = ["Base", "LeaderLease", "auth_models"]
