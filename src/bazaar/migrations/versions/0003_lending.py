"""Lending: customers, loans, installments, payments, reversals and idempotency keys.

Revision ID: 0003_lending
Revises: 0002_auth
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bazaar.lending.models import Rate
from bazaar.sqltypes import Money, UTCDateTime

revision: str = "0003_lending"
down_revision: str | None = "0002_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FREQUENCIES = ("weekly", "biweekly", "monthly")
INTEREST_METHODS = ("declining_balance", "flat")
AMORTIZATIONS = ("equal_installments", "equal_principal")
LOAN_STATUSES = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "withdrawn",
    "disbursed",
    "closed",
    "written_off",
)
PAYMENT_METHODS = ("cash", "upi", "bank_transfer", "card")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def _sync_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_hlc", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.Column("origin_node", sa.String(length=64), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("national_id", sa.String(length=32), nullable=True),
        sa.Column("business_name", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("officer_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        *_sync_columns(),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["users.id"], name=op.f("fk_customers_officer_id_users")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_customers_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("user_id", name=op.f("uq_customers_user_id")),
    )
    op.create_index(op.f("ix_customers_full_name"), "customers", ["full_name"])
    op.create_index(op.f("ix_customers_phone"), "customers", ["phone"])
    op.create_index(op.f("ix_customers_officer_id"), "customers", ["officer_id"])

    op.create_table(
        "loans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("officer_id", sa.Uuid(), nullable=False),
        sa.Column("principal", Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("annual_rate", Rate(), nullable=False),
        sa.Column("installments", sa.Integer(), nullable=False),
        sa.Column("frequency", _enum(FREQUENCIES, "frequency"), nullable=False),
        sa.Column("interest_method", _enum(INTEREST_METHODS, "interest_method"), nullable=False),
        sa.Column("amortization", _enum(AMORTIZATIONS, "amortization"), nullable=False),
        sa.Column("grace_on_principal", sa.Integer(), nullable=False),
        sa.Column("expected_disbursement_date", sa.Date(), nullable=False),
        sa.Column("first_repayment_date", sa.Date(), nullable=True),
        sa.Column("purpose", sa.String(length=500), nullable=True),
        sa.Column("status", _enum(LOAN_STATUSES, "loan_status"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("submitted_by", sa.Uuid(), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("disbursed_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("written_off_on", sa.Date(), nullable=True),
        sa.Column("principal_outstanding", Money(), nullable=False),
        sa.Column("interest_outstanding", Money(), nullable=False),
        sa.Column("principal_paid", Money(), nullable=False),
        sa.Column("interest_paid", Money(), nullable=False),
        sa.Column("oldest_unpaid_due", sa.Date(), nullable=True),
        *_sync_columns(),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_loans_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["users.id"], name=op.f("fk_loans_officer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_loans_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_loans_submitted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["users.id"], name=op.f("fk_loans_approved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
    )
    op.create_index(op.f("ix_loans_customer_id"), "loans", ["customer_id"])
    op.create_index(op.f("ix_loans_officer_id"), "loans", ["officer_id"])
    op.create_index(op.f("ix_loans_status"), "loans", ["status"])
    op.create_index(op.f("ix_loans_oldest_unpaid_due"), "loans", ["oldest_unpaid_due"])

    op.create_table(
        "loan_installments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal", Money(), nullable=False),
        sa.Column("interest", Money(), nullable=False),
        sa.Column("principal_paid", Money(), nullable=False),
        sa.Column("interest_paid", Money(), nullable=False),
        sa.Column("interest_waived", Money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"],
            ["loans.id"],
            name=op.f("fk_loan_installments_loan_id_loans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_installments")),
        sa.UniqueConstraint("loan_id", "number", name=op.f("uq_loan_installments_loan_id")),
    )
    op.create_index(op.f("ix_loan_installments_loan_id"), "loan_installments", ["loan_id"])

    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("loan_id", sa.Uuid(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("method", _enum(PAYMENT_METHODS, "payment_method"), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("principal_part", Money(), nullable=False),
        sa.Column("interest_part", Money(), nullable=False),
        *_sync_columns(),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_payments_loan_id_loans")),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_payments_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_loan_id"), "payments", ["loan_id"])
    op.create_index(op.f("ix_payments_paid_on"), "payments", ["paid_on"])

    op.create_table(
        "payment_reversals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("reversed_by", sa.Uuid(), nullable=False),
        *_sync_columns(),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_reversals_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["reversed_by"], ["users.id"], name=op.f("fk_payment_reversals_reversed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reversals")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_reversals_payment_id")),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("owner_id", "key", name=op.f("uq_idempotency_keys_owner_id")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("payment_reversals")
    op.drop_table("payments")
    op.drop_table("loan_installments")
    op.drop_table("loans")
    op.drop_table("customers")
