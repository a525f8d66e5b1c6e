"""How lending replicates: customers and loan applications merge as records; repayments,
reversals and submissions are commands replayed on the hub through lending's own services.

Installments are derived, not synced: a node rebuilds a loan's schedule and its payments'
allocation from the loan and payment rows the hub sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any, cast

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bazaar.auth.principal import Principal
from bazaar.auth.roles import Role
from bazaar.lending import ledger, repayments, rules
from bazaar.lending.errors import LoanNotEditable
from bazaar.lending.models import Customer, Installment, Loan, Payment, PaymentReversal
from bazaar.lending.rules import LoanCommand, LoanStatus
from bazaar.lending.schemas import CustomerFields, LoanFields, PaymentCreate
from bazaar.lending.scope import shown_to
from bazaar.lending.service import (
    delete_customer,
    delete_loan,
    get_customer,
    get_loan,
    preview_terms,
    terms_of,
    transition,
)
from bazaar.sync.errors import CommandNotAllowed, OutOfScope
from bazaar.sync.policies import Policy
from bazaar.sync.registry import (
    AfterPull,
    Command,
    CommandBatch,
    LocalChange,
    Mutation,
    PushContext,
    SyncEntity,
)

LOAN_TERMS = frozenset(
    {
        "principal",
        "currency",
        "annual_rate",
        "installments",
        "frequency",
        "interest_method",
        "amortization",
        "grace_on_principal",
        "expected_disbursement_date",
        "first_repayment_date",
        "purpose",
    }
)
LOAN_CREATED_BY_NODE = LOAN_TERMS | {"id", "customer_id", "created_at", "deleted_at"}
CUSTOMER_FIELDS = frozenset(
    {"full_name", "phone", "email", "national_id", "business_name", "address", "deleted_at"}
)
SCHEDULED = (LoanStatus.APPROVED, LoanStatus.DISBURSED, LoanStatus.CLOSED, LoanStatus.WRITTEN_OFF)


async def _validate_customer(
    *,
    session: AsyncSession,
    principal: Principal,
    push: PushContext,
    values: dict[str, Any],
    row: Customer | None,
) -> None:
    merged = {**_columns(row, CustomerFields.model_fields), **values}
    CustomerFields.model_validate(
        {k: merged.get(k) for k in CustomerFields.model_fields if k in merged}
    )
    officer = values.get("officer_id", row.officer_id if row else None)
    if principal.role is not Role.ADMIN and officer != principal.user_id:
        raise OutOfScope(details={"officer_id": str(officer)})
    if row is not None and values.get("deleted_at") and row.deleted_at is None:
        await delete_customer(session=session, customer=row)  # lending's rules for a delete


async def _validate_loan(
    *,
    session: AsyncSession,
    principal: Principal,
    push: PushContext,
    values: dict[str, Any],
    row: Loan | None,
) -> None:
    if row is None:
        # A node creates a draft with its terms; status, approvals and balances are the hub's
        # (a submission made offline follows as its own command).
        for name in set(values) - LOAN_CREATED_BY_NODE:
            del values[name]
        customer = push.pushed_row("customer", values["customer_id"])
        if customer is None or not shown_to(principal, customer):
            customer = await get_customer(
                session=session, principal=principal, customer_id=values["customer_id"]
            )
        values |= {
            "officer_id": customer.officer_id,
            "created_by": principal.user_id,
            "status": LoanStatus.DRAFT,
        }
    elif values.get("deleted_at") and row.deleted_at is None:
        await delete_loan(session=session, loan=row)  # drafts only, as over HTTP
    elif row.status not in rules.EDITABLE:
        raise LoanNotEditable(details={"status": row.status})
    merged = {**_columns(row, LoanFields.model_fields), **values}
    preview_terms(
        LoanFields.model_validate({k: merged[k] for k in LoanFields.model_fields if k in merged})
    )


def _columns(row: object | None, names: Iterable[str]) -> dict[str, Any]:
    return {} if row is None else {n: getattr(row, n) for n in names if hasattr(row, n)}


def _loan_commands(change: LocalChange) -> list[str]:
    submitted = change.after.get("status") == LoanStatus.SUBMITTED.value
    if submitted and (
        change.op == "insert" or change.before.get("status") == LoanStatus.DRAFT.value
    ):
        return [LoanCommand.SUBMIT.value]
    return []


def _on_insert(name: str) -> Callable[[LocalChange], list[str]]:
    def commands(change: LocalChange) -> list[str]:
        return [name] if change.op == "insert" else []

    return commands


async def _submit(
    *, session: AsyncSession, principal: Principal, push: PushContext, mutation: Mutation
) -> None:
    loan_id = uuid.UUID(mutation.entity_id)
    loan = push.pushed_row("loan", loan_id)
    if loan is None or not shown_to(principal, loan):
        loan = await get_loan(session=session, principal=principal, loan_id=loan_id, lock=True)
    if loan.status is not LoanStatus.SUBMITTED:
        await transition(
            session=session, principal=principal, loan=loan, command=LoanCommand.SUBMIT
        )


def _payment_of(mutation: Mutation) -> PaymentCreate:
    data = mutation.changes
    return PaymentCreate.model_validate(
        {k: data.get(k) for k in ("loan_id", "amount", "paid_on", "method", "reference", "notes")}
    )


async def _repayment(
    *, session: AsyncSession, principal: Principal, push: PushContext, mutation: Mutation
) -> None:
    payment_id = uuid.UUID(mutation.entity_id)
    stored = not push.known_absent("payment", payment_id)
    if stored and await session.get(Payment, payment_id) is not None:
        return  # the same command id came by another mutation: applied once
    await repayments.record_payment(
        session=session, principal=principal, data=_payment_of(mutation), payment_id=payment_id
    )


def _collection_key(push: PushContext, mutation: Mutation) -> uuid.UUID | None:
    # Only payments the push knows are new: one stored already is answered by _repayment.
    if not push.known_absent("payment", uuid.UUID(mutation.entity_id)):
        return None
    try:
        return _payment_of(mutation).loan_id
    except ValueError:
        return None  # _repayment rejects it with the reason


async def _collections(
    *,
    session: AsyncSession,
    principal: Principal,
    push: PushContext,
    mutations: list[Mutation],
) -> list[Exception | None]:
    """A node's repayments of one loan, through lending's batch of the same rules."""
    payments = [(uuid.UUID(m.entity_id), _payment_of(m)) for m in mutations]
    outcomes = await repayments.record_payments(
        session=session, principal=principal, loan_id=payments[0][1].loan_id, payments=payments
    )
    return [outcome if isinstance(outcome, Exception) else None for outcome in outcomes]


async def _reversal(
    *, session: AsyncSession, principal: Principal, push: PushContext, mutation: Mutation
) -> None:
    # The same rule as DELETE /payments/{id}: only admins reverse money.
    if principal.role is not Role.ADMIN:
        raise CommandNotAllowed(details={"command": "reversal", "role": principal.role})
    reversal_id = uuid.UUID(mutation.entity_id)
    stored = not push.known_absent("payment_reversal", reversal_id)
    if stored and await session.get(PaymentReversal, reversal_id) is not None:
        return
    data = mutation.changes
    await repayments.reverse_payment(
        session=session,
        principal=principal,
        payment_id=uuid.UUID(data["payment_id"]),
        reason=str(data["reason"]),
        reversal_id=reversal_id,
    )


async def _loan_ids(session: AsyncSession, entity_type: str, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    if entity_type == "loan":
        return ids
    if entity_type == "payment":
        query = select(Payment.loan_id).where(Payment.id.in_(ids))
    else:
        query = (
            select(Payment.loan_id)
            .join(PaymentReversal, PaymentReversal.payment_id == Payment.id)
            .where(PaymentReversal.id.in_(ids))
        )
    return set((await session.execute(query)).scalars())


async def rebuild_schedules(*, session: AsyncSession, loan_ids: Iterable[uuid.UUID]) -> None:
    """Every given loan's installments and payment splits, replayed from its rows: a fixed
    number of statements however many loans and payments."""
    ids = list(loan_ids)
    if not ids:
        return
    await session.execute(delete(Installment).where(Installment.loan_id.in_(ids)))
    loans = (
        await session.execute(
            select(*Loan.__table__.c).where(Loan.id.in_(ids), Loan.status.in_(SCHEDULED))
        )
    ).all()
    payments = await ledger.payment_rows_of(session, [loan.id for loan in loans])
    installments: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for loan in loans:
        schedule = rules.generate_schedule(terms_of(cast(Loan, loan)))
        allocation = rules.allocate(schedule, ledger.records_of(payments[loan.id]))
        moved += ledger.moved_splits(payments[loan.id], allocation)
        installments += [
            {
                "loan_id": loan.id,
                "number": s.number,
                "starts_on": s.starts_on,
                "due_date": s.due_date,
                "principal": s.principal,
                "interest": s.interest,
                "principal_paid": s.principal_paid,
                "interest_paid": s.interest_paid,
                "interest_waived": s.interest_waived,
            }
            for s in allocation.installments
        ]
    if moved:
        await session.execute(ledger.SET_PAYMENT_SPLITS, moved)
    if installments:
        await session.execute(insert(Installment), installments)


def _rebuild_after(entity_type: str) -> AfterPull:
    async def after_pull(*, session: AsyncSession, ids: set[uuid.UUID]) -> None:
        await rebuild_schedules(
            session=session, loan_ids=await _loan_ids(session, entity_type, ids)
        )

    return after_pull


ENTITIES = (
    SyncEntity(
        "customer",
        Customer,
        owner_column="officer_id",
        policies={"officer_id": Policy.SERVER_WINS, "user_id": Policy.SERVER_WINS},
        default_policy=Policy.LATEST_TIMESTAMP,
        node_fields=CUSTOMER_FIELDS,
        validate=_validate_customer,
    ),
    SyncEntity(
        "loan",
        Loan,
        owner_column="officer_id",
        # Terms edited offline while headquarters moved the application on are not
        # merged silently: they wait in the conflict inbox.
        default_policy=Policy.MANUAL,
        node_fields=LOAN_TERMS | {"deleted_at"},
        commands=_loan_commands,
        validate=_validate_loan,
        after_pull=_rebuild_after("loan"),
        derived=(("loan_installments", "loan_id"),),
    ),
    SyncEntity(
        "payment",
        Payment,
        parent=("loan", "loan_id"),
        records=False,
        commands=_on_insert("repayment"),
        priority=0,
        after_pull=_rebuild_after("payment"),
    ),
    SyncEntity(
        "payment_reversal",
        PaymentReversal,
        parent=("payment", "payment_id"),
        records=False,
        commands=_on_insert("reversal"),
        priority=0,
        after_pull=_rebuild_after("payment_reversal"),
    ),
)
"""Parents before children: a child's owner is its parent's."""

COMMANDS = (
    Command(LoanCommand.SUBMIT.value, _submit),
    Command("repayment", _repayment, CommandBatch(key=_collection_key, apply=_collections)),
    Command("reversal", _reversal),
)
