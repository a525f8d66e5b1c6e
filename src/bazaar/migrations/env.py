"""Alembic environment: always given a connection by bazaar.migrate."""

from __future__ import annotations

from alembic import context

from bazaar.db import mapped_name
from bazaar.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `bazaar migrate` (bazaar.migrate.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=mapped_name,
)
with context.begin_transaction():
    context.run_migrations()
