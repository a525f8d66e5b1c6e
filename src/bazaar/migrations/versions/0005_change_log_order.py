"""Change log: on PostgreSQL a statement trigger takes the lock that orders appends.

Writers of the change log hold one transaction-scoped advisory lock from their first append to
commit, so sequence numbers become visible in commit order and a pull cursor never skips a late
commit. Taking it in a BEFORE INSERT statement trigger, rather than in a statement of its own,
spares every writing transaction a round trip while it holds the lock (and so every other
writer the wait). SQLite has a single writer already.

Revision ID: 0005_change_log_order
Revises: 0004_sync
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_change_log_order"
down_revision: str | None = "0004_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Any constant works; it only has to be the same wherever the change log is written.
CHANGE_LOG_LOCK = 0x62617A61


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION change_log_in_commit_order() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({CHANGE_LOG_LOCK});
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER change_log_in_commit_order BEFORE INSERT ON change_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION change_log_in_commit_order()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER change_log_in_commit_order ON change_log")
    op.execute("DROP FUNCTION change_log_in_commit_order()")
