"""Loan arithmetic and lifecycle: pure functions over `Decimal`, no I/O.

Rules (docs/api.md repeats them for API users):

- Periodic rate = annual rate / periods per year (weekly 52, biweekly 26, monthly 12); interest is
  charged per period, not per day.
- Every amount is computed exactly (multiply, then divide once) and quantized to the currency's
  minor unit with ROUND_HALF_EVEN. The last installment absorbs the rounding residue, so
  principal parts sum to the principal exactly; equal installments stay within LEVEL_TOLERANCE
  minor units of each other (re-levelled per period when a kept payment would not).
- Payments apply in date order (ties in recording order), each to the oldest installment first,
  interest before principal; money beyond what is due pays later installments in advance.
- Payoff as of a date = outstanding principal + unpaid interest of every installment whose period
  began before that date. A payment of at least the payoff closes the loan and waives the interest
  of periods not yet begun; whatever exceeds the payoff is `excess` (the API refuses it).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from uuid import UUID

from bazaar.auth.roles import Role
from bazaar.money import ZERO, minor_unit, money_context, quantize


class Frequency(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


PERIODS_PER_YEAR: Mapping[Frequency, int] = {
    Frequency.WEEKLY: 52,
    Frequency.BIWEEKLY: 26,
    Frequency.MONTHLY: 12,
}


class InterestMethod(StrEnum):
    DECLINING_BALANCE = "declining_balance"
    FLAT = "flat"


class Amortization(StrEnum):
    EQUAL_INSTALLMENTS = "equal_installments"
    EQUAL_PRINCIPAL = "equal_principal"


class Bucket(StrEnum):
    CURRENT = "current"
    DPD_1_30 = "1-30"
    DPD_31_60 = "31-60"
    DPD_61_90 = "61-90"
    DPD_90_PLUS = "90+"


class TermsError(ValueError):
    """Loan terms no schedule can be built from."""


@dataclass(frozen=True, kw_only=True)
class LoanTerms:
    principal: Decimal
    annual_rate: Decimal
    """Percent per year, e.g. Decimal("12") for 12 %."""
    installments: int
    disbursement_date: date
    frequency: Frequency = Frequency.MONTHLY
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    grace_on_principal: int = 0
    """Leading installments that carry interest only."""
    first_repayment_date: date | None = None
    currency: str = "INR"

    def __post_init__(self) -> None:
        if self.principal <= 0:
            raise TermsError("principal must be positive")
        if self.annual_rate < 0:
            raise TermsError("annual rate must not be negative")
        if self.installments < 1:
            raise TermsError("at least one installment is needed")
        if not 0 <= self.grace_on_principal < self.installments:
            raise TermsError("grace on principal must leave at least one principal installment")
        if (
            self.first_repayment_date is not None
            and self.first_repayment_date <= self.disbursement_date
        ):
            raise TermsError("first repayment date must be after the disbursement date")


@dataclass(frozen=True, kw_only=True)
class ScheduledInstallment:
    number: int
    starts_on: date
    """The period runs from `starts_on` (exclusive) to `due_date` (inclusive)."""
    due_date: date
    principal: Decimal
    interest: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest


def add_periods(start: date, frequency: Frequency, count: int) -> date:
    """`count` periods after `start`; monthly steps clamp to the month end (31 Jan + 1: 29 Feb)."""
    if frequency is Frequency.MONTHLY:
        years, month_index = divmod(start.month - 1 + count, 12)
        year, month = start.year + years, month_index + 1
        return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
    weeks = 1 if frequency is Frequency.WEEKLY else 2
    return start + timedelta(weeks=weeks * count)


def due_dates(terms: LoanTerms) -> list[date]:
    # Stepping from one anchor (not from the previous date) keeps the day of month after a clamp.
    if terms.first_repayment_date is not None:
        anchor, offset = terms.first_repayment_date, 0
    else:
        anchor, offset = terms.disbursement_date, 1
    return [add_periods(anchor, terms.frequency, k + offset) for k in range(terms.installments)]


LEVEL_TOLERANCE = 3
"""Minor units the last equal installment may differ from the others before the schedule is
re-levelled period by period."""


def periodic_rate(terms: LoanTerms) -> Decimal:
    return terms.annual_rate / 100 / PERIODS_PER_YEAR[terms.frequency]


def _interest_on(amount: Decimal, terms: LoanTerms, periods: int = 1) -> Decimal:
    """`periods` periods' interest on `amount`, rounded once: the product is exact and is
    divided once, so a true half-cent tie stays a tie and rounds half to even (a rate carried
    as a rounded decimal turned 5,926.605 into 5,926.605000...01)."""
    exact = amount * terms.annual_rate * periods / (100 * PERIODS_PER_YEAR[terms.frequency])
    return quantize(exact, terms.currency)


def generate_schedule(terms: LoanTerms) -> list[ScheduledInstallment]:
    with money_context():
        if terms.interest_method is InterestMethod.FLAT:
            parts = _flat_parts(terms)
        else:
            parts = _declining_parts(terms)
    dates = due_dates(terms)
    starts = [terms.disbursement_date, *dates[:-1]]
    return [
        ScheduledInstallment(number=i + 1, starts_on=start, due_date=due, principal=p, interest=x)
        for i, (start, due, (p, x)) in enumerate(zip(starts, dates, parts, strict=True))
    ]


def _split(total: Decimal, count: int, currency: str) -> list[Decimal]:
    """`count` equal parts of `total`, the last one taking the residue.

    When rounding the part up would leave the last one negative (1.00 in 150 parts), the part is
    rounded down instead, so the residue is never negative.
    """
    part = quantize(total / count, currency)
    if part * (count - 1) > total:
        part = (total / count).quantize(minor_unit(currency), rounding=ROUND_DOWN)
    return [part] * (count - 1) + [total - part * (count - 1)]


def _flat_parts(terms: LoanTerms) -> list[tuple[Decimal, Decimal]]:
    # Flat interest is charged on the original principal for every period of the term, so the
    # two amortizations coincide: principal and interest parts are each equal.
    n, grace = terms.installments, terms.grace_on_principal
    total_interest = _interest_on(terms.principal, terms, n)
    principal = [ZERO] * grace + _split(terms.principal, n - grace, terms.currency)
    interest = _split(total_interest, n, terms.currency)
    return list(zip(principal, interest, strict=True))


def _declining_parts(terms: LoanTerms) -> list[tuple[Decimal, Decimal]]:
    n, grace, currency = terms.installments, terms.grace_on_principal, terms.currency
    rate = periodic_rate(terms)
    amortizing = n - grace
    if terms.amortization is Amortization.EQUAL_PRINCIPAL:
        return _with_declining_interest(
            terms, [ZERO] * grace + _split(terms.principal, amortizing, currency)
        )
    level = quantize(_level(terms.principal, rate, amortizing), currency)
    kept = _amortize(terms, lambda _balance, _left: level)
    last = sum(kept[-1], ZERO)
    if abs(last - level) <= LEVEL_TOLERANCE * minor_unit(currency):
        return kept
    # The level payment's rounding, compounded over a long term at a high rate, would land in
    # the last installment (a bullet, or an early run-out): re-level every period instead.
    return _amortize(terms, lambda balance, left: quantize(_level(balance, rate, left), currency))


def _amortize(
    terms: LoanTerms, payment_for: Callable[[Decimal, int], Decimal]
) -> list[tuple[Decimal, Decimal]]:
    """(principal, interest) per installment: interest-only through the grace, then
    `payment_for(balance, installments left)` each period, the last one clearing the balance.
    Quantizing is monotone and a level payment covers the period's interest, so no principal
    part is negative."""
    n, balance, parts = terms.installments, terms.principal, []
    for index in range(n):
        interest = _interest_on(balance, terms)
        if index < terms.grace_on_principal:
            principal = ZERO
        elif index == n - 1:
            principal = balance
        else:
            principal = min(payment_for(balance, n - index) - interest, balance)
        balance -= principal
        parts.append((principal, interest))
    return parts


def _level(balance: Decimal, rate: Decimal, periods: int) -> Decimal:
    """The exact level payment that repays `balance` over `periods` at `rate`."""
    if rate == 0:
        return balance / periods
    return balance * rate / (1 - (1 + rate) ** -periods)


def _with_declining_interest(
    terms: LoanTerms, principal_parts: list[Decimal]
) -> list[tuple[Decimal, Decimal]]:
    balance, parts = terms.principal, []
    for principal in principal_parts:
        parts.append((principal, _interest_on(balance, terms)))
        balance -= principal
    return parts


@dataclass(frozen=True, kw_only=True)
class PaymentRecord:
    id: UUID
    """UUIDv7: breaks ties between payments of the same date in recording order."""
    paid_on: date
    amount: Decimal
    reversed: bool = False


@dataclass(kw_only=True)
class InstallmentState:
    number: int
    starts_on: date
    due_date: date
    principal: Decimal
    interest: Decimal
    principal_paid: Decimal = ZERO
    interest_paid: Decimal = ZERO
    interest_waived: Decimal = ZERO

    @property
    def principal_unpaid(self) -> Decimal:
        return self.principal - self.principal_paid

    @property
    def interest_unpaid(self) -> Decimal:
        return self.interest - self.interest_paid - self.interest_waived

    @property
    def unpaid(self) -> Decimal:
        return self.principal_unpaid + self.interest_unpaid


@dataclass(frozen=True, kw_only=True)
class PaymentAllocation:
    payment_id: UUID
    principal: Decimal
    interest: Decimal
    excess: Decimal


@dataclass(frozen=True, kw_only=True)
class Allocation:
    installments: list[InstallmentState]
    payments: list[PaymentAllocation]
    closed_on: date | None

    @property
    def principal_outstanding(self) -> Decimal:
        return sum((i.principal_unpaid for i in self.installments), ZERO)

    @property
    def interest_outstanding(self) -> Decimal:
        return sum((i.interest_unpaid for i in self.installments), ZERO)

    @property
    def excess(self) -> Decimal:
        return sum((p.excess for p in self.payments), ZERO)


def fresh_states(schedule: Iterable[ScheduledInstallment]) -> list[InstallmentState]:
    return [
        InstallmentState(
            number=s.number,
            starts_on=s.starts_on,
            due_date=s.due_date,
            principal=s.principal,
            interest=s.interest,
        )
        for s in schedule
    ]


def owed_to_close(states: Sequence[InstallmentState], on: date) -> Decimal:
    """What a payment on `on` must reach to close the loan: its payoff when `states` hold the
    allocation of every live payment, all of them made on or before `on`."""
    return sum(
        (s.principal_unpaid + (s.interest_unpaid if s.starts_on < on else ZERO) for s in states),
        ZERO,
    )


def allocate(
    schedule: Sequence[ScheduledInstallment], payments: Iterable[PaymentRecord]
) -> Allocation:
    """Replay every live payment against a fresh schedule (see the module rules)."""
    states = fresh_states(schedule)
    results: list[PaymentAllocation] = []
    closed_on: date | None = None
    for payment in sorted((p for p in payments if not p.reversed), key=lambda p: (p.paid_on, p.id)):
        if closed_on is not None:
            results.append(
                PaymentAllocation(
                    payment_id=payment.id, principal=ZERO, interest=ZERO, excess=payment.amount
                )
            )
            continue
        result, closes = _apply(states, payment)
        results.append(result)
        if closes:
            closed_on = payment.paid_on
    return Allocation(installments=states, payments=results, closed_on=closed_on)


def allocate_next(states: list[InstallmentState], payment: PaymentRecord) -> Allocation:
    """Add one payment to `states`, the allocation of an open loan's live payments, when it
    sorts after all of them: the same figures as `allocate` over all of them, without the
    replay."""
    result, closes = _apply(states, payment)
    return Allocation(
        installments=states, payments=[result], closed_on=payment.paid_on if closes else None
    )


def _apply(
    states: list[InstallmentState], payment: PaymentRecord
) -> tuple[PaymentAllocation, bool]:
    """Allocate one payment in place; True when it closes the loan."""
    closes = payment.amount >= owed_to_close(states, payment.paid_on)
    if closes:
        for s in states:
            if s.starts_on >= payment.paid_on:
                s.interest_waived = s.interest - s.interest_paid
    remaining, principal, interest = payment.amount, ZERO, ZERO
    for s in states:
        take = min(remaining, s.interest_unpaid)
        s.interest_paid += take
        interest += take
        remaining -= take
        take = min(remaining, s.principal_unpaid)
        s.principal_paid += take
        principal += take
        remaining -= take
    result = PaymentAllocation(
        payment_id=payment.id, principal=principal, interest=interest, excess=remaining
    )
    return result, closes


@dataclass(frozen=True, kw_only=True)
class PayoffQuote:
    as_of: date
    principal: Decimal
    interest: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest


def payoff_quote(
    schedule: Sequence[ScheduledInstallment], payments: Iterable[PaymentRecord], as_of: date
) -> PayoffQuote:
    """The amount that, paid on `as_of`, closes the loan (zero once it is closed)."""
    allocation = allocate(schedule, (p for p in payments if p.paid_on <= as_of))
    if allocation.closed_on is not None:
        return PayoffQuote(as_of=as_of, principal=ZERO, interest=ZERO)
    interest = sum(
        (s.interest_unpaid for s in allocation.installments if s.starts_on < as_of), ZERO
    )
    return PayoffQuote(as_of=as_of, principal=allocation.principal_outstanding, interest=interest)


@dataclass(frozen=True, kw_only=True)
class Delinquency:
    as_of: date
    days_past_due: int
    overdue_amount: Decimal
    next_due_date: date | None
    principal_outstanding: Decimal
    interest_outstanding: Decimal
    bucket: Bucket


def bucket_for(days_past_due: int) -> Bucket:
    if days_past_due <= 0:
        return Bucket.CURRENT
    if days_past_due <= 30:
        return Bucket.DPD_1_30
    if days_past_due <= 60:
        return Bucket.DPD_31_60
    if days_past_due <= 90:
        return Bucket.DPD_61_90
    return Bucket.DPD_90_PLUS


def delinquency_of(states: Sequence[InstallmentState], as_of: date) -> Delinquency:
    """Delinquency from allocated installments; one is past due the day after it falls due."""
    unpaid = [s for s in states if s.unpaid > 0]
    overdue = [s for s in unpaid if s.due_date < as_of]
    days = (as_of - overdue[0].due_date).days if overdue else 0
    return Delinquency(
        as_of=as_of,
        days_past_due=days,
        overdue_amount=sum((s.unpaid for s in overdue), ZERO),
        next_due_date=next((s.due_date for s in unpaid if s.due_date >= as_of), None),
        principal_outstanding=sum((s.principal_unpaid for s in states), ZERO),
        interest_outstanding=sum((s.interest_unpaid for s in states), ZERO),
        bucket=bucket_for(days),
    )


def delinquency(
    schedule: Sequence[ScheduledInstallment], payments: Iterable[PaymentRecord], as_of: date
) -> Delinquency:
    allocation = allocate(schedule, (p for p in payments if p.paid_on <= as_of))
    return delinquency_of(allocation.installments, as_of)


class LoanStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    DISBURSED = "disbursed"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


class LoanCommand(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    DISBURSE = "disburse"
    UNDO_APPROVAL = "undo-approval"
    WRITE_OFF = "write-off"


TRANSITIONS: Mapping[LoanStatus, Mapping[LoanCommand, LoanStatus]] = {
    LoanStatus.DRAFT: {LoanCommand.SUBMIT: LoanStatus.SUBMITTED},
    LoanStatus.SUBMITTED: {
        LoanCommand.APPROVE: LoanStatus.APPROVED,
        LoanCommand.REJECT: LoanStatus.REJECTED,
        LoanCommand.WITHDRAW: LoanStatus.WITHDRAWN,
    },
    LoanStatus.APPROVED: {
        LoanCommand.DISBURSE: LoanStatus.DISBURSED,
        LoanCommand.UNDO_APPROVAL: LoanStatus.SUBMITTED,
    },
    LoanStatus.DISBURSED: {LoanCommand.WRITE_OFF: LoanStatus.WRITTEN_OFF},
}
EDITABLE: frozenset[LoanStatus] = frozenset({LoanStatus.DRAFT, LoanStatus.SUBMITTED})
"""Statuses whose terms may still change. Closing is no command: it follows the balance."""


def next_status(status: LoanStatus, command: LoanCommand) -> LoanStatus | None:
    return TRANSITIONS.get(status, {}).get(command)


def allowed_commands(status: LoanStatus) -> list[LoanCommand]:
    """What the state machine allows from `status`, whoever asks."""
    return list(TRANSITIONS.get(status, {}))


_ANY_LENDING_USER = frozenset({Role.ADMIN, Role.OFFICER, Role.CUSTOMER})
COMMAND_ROLES: Mapping[LoanCommand, frozenset[Role]] = {
    LoanCommand.SUBMIT: _ANY_LENDING_USER,
    LoanCommand.WITHDRAW: _ANY_LENDING_USER,
    LoanCommand.APPROVE: frozenset({Role.ADMIN}),
    LoanCommand.REJECT: frozenset({Role.ADMIN}),
    LoanCommand.DISBURSE: frozenset({Role.ADMIN}),
    LoanCommand.UNDO_APPROVAL: frozenset({Role.ADMIN}),
    LoanCommand.WRITE_OFF: frozenset({Role.ADMIN}),
}
"""Who may give each command (the routes' role checks; tests/auth/authz_matrix.csv agrees)."""


def commands_for(
    status: LoanStatus, role: Role, *, may_write: bool, maker: bool
) -> list[LoanCommand]:
    """What this caller may do to the loan now: the commands the state machine allows that
    their role may give, none with a read-only key, and no approval by the loan's maker."""
    if not may_write:
        return []
    return [
        command
        for command in allowed_commands(status)
        if role in COMMAND_ROLES[command] and not (maker and command is LoanCommand.APPROVE)
    ]
