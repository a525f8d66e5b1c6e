"""Money columns hold thousandths instead of hundredths, for currencies with 3 places.

Approving a loan in KWD, BHD or OMR failed: its schedule has 3-place amounts and the columns
stored integer cents. Every stored amount is multiplied by 10; nothing else changes. A
downgrade divides again, and refuses while any amount has a third place it would lose.

Revision ID: 0007_money_thousandths
Revises: 0006_sync_field_ready
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_money_thousandths"
down_revision: str | None = "0006_sync_field_ready"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = {
    "loans": (
        "principal",
        "principal_outstanding",
        "interest_outstanding",
        "principal_paid",
        "interest_paid",
    ),
    "loan_installments": (
        "principal",
        "interest",
        "principal_paid",
        "interest_paid",
        "interest_waived",
    ),
    "payments": ("amount", "principal_part", "interest_part"),
}


def upgrade() -> None:
    for table, columns in MONEY_COLUMNS.items():
        op.execute(f"UPDATE {table} SET " + ", ".join(f"{c} = {c} * 10" for c in columns))  # noqa: S608


def downgrade() -> None:
    bind = op.get_bind()
    for table, columns in MONEY_COLUMNS.items():
        finer = " OR ".join(f"{c} % 10 <> 0" for c in columns)
        count = bind.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {finer}")).scalar_one()  # noqa: S608
        if count:
            raise RuntimeError(
                f"{count} rows of {table} have 3-place amounts, which cents cannot hold"
            )
    for table, columns in MONEY_COLUMNS.items():
        op.execute(f"UPDATE {table} SET " + ", ".join(f"{c} = {c} / 10" for c in columns))  # noqa: S608
