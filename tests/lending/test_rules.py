from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uuid6 import uuid7

from bazaar.lending.rules import (
    Amortization,
    Bucket,
    Frequency,
    InterestMethod,
    LoanCommand,
    LoanStatus,
    LoanTerms,
    PaymentRecord,
    TermsError,
    add_periods,
    allocate,
    allocate_next,
    allowed_commands,
    delinquency,
    generate_schedule,
    next_status,
    payoff_quote,
)
from bazaar.money import ZERO

D = Decimal
START = date(2024, 1, 31)


def monthly_12k() -> LoanTerms:
    # 12,000.00 at 12 % over 12 months: 1,000.00 principal a month, interest 120.00 .. 10.00.
    return LoanTerms(
        principal=D("12000.00"),
        annual_rate=D("12"),
        installments=12,
        disbursement_date=date(2024, 1, 1),
        amortization=Amortization.EQUAL_PRINCIPAL,
    )


def pay(on: date, amount: str, *, reversed: bool = False) -> PaymentRecord:
    return PaymentRecord(id=uuid7(), paid_on=on, amount=D(amount), reversed=reversed)


terms_strategy = st.builds(
    lambda principal_cents, rate_bp, n, grace_share, freq, method, amort: LoanTerms(
        principal=D(principal_cents).scaleb(-2),
        annual_rate=D(rate_bp).scaleb(-2),
        installments=n,
        grace_on_principal=min(n - 1, grace_share * n // 100),
        frequency=freq,
        interest_method=method,
        amortization=amort,
        disbursement_date=START,
    ),
    st.integers(100, 1_000_000_000),
    st.integers(0, 6000),
    st.integers(1, 360),
    st.sampled_from([0, 0, 0, 10, 50]),
    st.sampled_from(Frequency),
    st.sampled_from(InterestMethod),
    st.sampled_from(Amortization),
)


@settings(max_examples=300, deadline=None)
@given(terms_strategy)
def test_schedule_amounts_are_exact_cents_and_principal_sums_to_the_loan(terms: LoanTerms) -> None:
    schedule = generate_schedule(terms)

    assert len(schedule) == terms.installments
    assert sum(i.principal for i in schedule) == terms.principal
    for item in schedule:
        for amount in (item.principal, item.interest):
            assert amount >= 0
            assert amount.as_tuple().exponent == -2
    assert all(i.principal == 0 for i in schedule[: terms.grace_on_principal])
    assert [i.due_date for i in schedule] == sorted({i.due_date for i in schedule})
    if terms.annual_rate == 0:
        assert sum(i.interest for i in schedule) == 0


@settings(max_examples=200, deadline=None)
@given(terms_strategy)
def test_equal_parts_are_level_and_the_last_takes_the_residue(terms: LoanTerms) -> None:
    schedule = generate_schedule(terms)
    amortizing = schedule[terms.grace_on_principal :]
    level_principal = (
        terms.interest_method is InterestMethod.FLAT
        or terms.amortization is Amortization.EQUAL_PRINCIPAL
    )

    if level_principal:
        assert len({i.principal for i in amortizing[:-1]}) <= 1
        # The residue is what rounding left over: under a cent per part.
        assert abs(amortizing[-1].principal - amortizing[0].principal) < D("0.01") * len(amortizing)
    if terms.interest_method is InterestMethod.FLAT:
        assert len({i.interest for i in schedule[:-1]}) <= 1


@settings(max_examples=100, deadline=None)
@given(terms_strategy, st.data())
def test_paying_the_quote_closes_the_loan(terms: LoanTerms, data: st.DataObject) -> None:
    schedule = generate_schedule(terms)
    paid_on = START + timedelta(days=data.draw(st.integers(0, 40 * terms.installments)))
    quote = payoff_quote(schedule, [], paid_on)

    allocation = allocate(schedule, [pay(paid_on, str(quote.total))])

    assert quote.principal == terms.principal
    assert allocation.closed_on == paid_on
    assert allocation.principal_outstanding == 0
    assert allocation.interest_outstanding == 0
    assert allocation.excess == 0
    assert allocation.payments[0].interest == quote.interest


@settings(max_examples=150, deadline=None)
@given(terms_strategy, st.data())
def test_adding_the_newest_payment_equals_replaying_them_all(
    terms: LoanTerms, data: st.DataObject
) -> None:
    schedule = generate_schedule(terms)
    days = sorted(data.draw(st.lists(st.integers(0, 40 * terms.installments), max_size=8)))
    cents = st.integers(1, int(terms.principal * 100))
    payments = [pay(START + timedelta(days=d), str(D(data.draw(cents)).scaleb(-2))) for d in days]
    states = allocate(schedule, []).installments

    for number, payment in enumerate(payments):
        stepped = allocate_next(states, payment)
        replayed = allocate(schedule, payments[: number + 1])
        assert stepped.installments == replayed.installments
        assert stepped.payments == replayed.payments[-1:]
        assert stepped.closed_on == replayed.closed_on
        if stepped.closed_on is not None:
            break  # an open loan takes payments; a closed one refuses them


def test_golden_declining_equal_installments() -> None:
    schedule = generate_schedule(
        LoanTerms(
            principal=D("100000.00"), annual_rate=D("12"), installments=12, disbursement_date=START
        )
    )

    assert [i.total for i in schedule[:-1]] == [D("8884.88")] * 11
    assert (schedule[0].principal, schedule[0].interest) == (D("7884.88"), D("1000.00"))
    assert (schedule[-1].principal, schedule[-1].interest, schedule[-1].total) == (
        D("8796.88"),
        D("87.97"),
        D("8884.85"),
    )
    assert sum(i.interest for i in schedule) == D("6618.53")


def test_golden_flat_rate_by_hand() -> None:
    # 10,000.00 at 10 % flat over 6 months: interest 10,000 x 10 % / 12 x 6 = 500.00,
    # 500.00 / 6 = 83.33 (last 83.35); principal 10,000 / 6 = 1,666.67 (last 1,666.65).
    schedule = generate_schedule(
        LoanTerms(
            principal=D("10000.00"),
            annual_rate=D("10"),
            installments=6,
            disbursement_date=date(2024, 1, 15),
            interest_method=InterestMethod.FLAT,
        )
    )

    assert [(i.principal, i.interest) for i in schedule] == [(D("1666.67"), D("83.33"))] * 5 + [
        (D("1666.65"), D("83.35"))
    ]
    assert all(i.total == D("1750.00") for i in schedule)


def test_golden_equal_principal_with_grace() -> None:
    schedule = generate_schedule(
        LoanTerms(
            principal=D("3000.00"),
            annual_rate=D("24"),
            installments=4,
            grace_on_principal=1,
            disbursement_date=date(2024, 1, 1),
            amortization=Amortization.EQUAL_PRINCIPAL,
        )
    )

    assert [(i.principal, i.interest) for i in schedule] == [
        (D("0.00"), D("60.00")),
        (D("1000.00"), D("60.00")),
        (D("1000.00"), D("40.00")),
        (D("1000.00"), D("20.00")),
    ]


def test_zero_rate_splits_principal_with_residue_on_the_last() -> None:
    schedule = generate_schedule(
        LoanTerms(
            principal=D("100.00"), annual_rate=D("0"), installments=3, disbursement_date=START
        )
    )

    assert [i.total for i in schedule] == [D("33.33"), D("33.33"), D("33.34")]


def test_due_dates_clamp_to_month_end_without_drifting() -> None:
    schedule = generate_schedule(
        LoanTerms(
            principal=D("1200.00"), annual_rate=D("12"), installments=4, disbursement_date=START
        )
    )

    assert [i.due_date for i in schedule] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]


def test_due_dates_follow_the_first_repayment_date_and_frequency() -> None:
    terms = LoanTerms(
        principal=D("1000.00"),
        annual_rate=D("26"),
        installments=3,
        frequency=Frequency.BIWEEKLY,
        disbursement_date=date(2024, 3, 1),
        first_repayment_date=date(2024, 3, 10),
    )

    schedule = generate_schedule(terms)

    assert [i.due_date for i in schedule] == [
        date(2024, 3, 10),
        date(2024, 3, 24),
        date(2024, 4, 7),
    ]
    assert schedule[0].starts_on == date(2024, 3, 1)
    assert schedule[0].interest == D("10.00")
    assert add_periods(date(2024, 1, 1), Frequency.WEEKLY, 52) == date(2024, 12, 30)


@pytest.mark.parametrize(
    "changes",
    [
        {"principal": D("0")},
        {"annual_rate": D("-1")},
        {"installments": 0},
        {"grace_on_principal": 12},
        {"first_repayment_date": date(2024, 1, 1)},
    ],
)
def test_impossible_terms_are_refused(changes: dict[str, object]) -> None:
    base = {
        "principal": D("1000.00"),
        "annual_rate": D("12"),
        "installments": 12,
        "disbursement_date": date(2024, 1, 1),
    }
    with pytest.raises(TermsError):
        LoanTerms(**{**base, **changes})  # type: ignore[arg-type]


def test_payment_pays_oldest_interest_then_principal_and_carries_forward() -> None:
    schedule = generate_schedule(monthly_12k())
    first = pay(date(2024, 2, 1), "1200.00")

    allocation = allocate(schedule, [first])

    one, two = allocation.installments[:2]
    assert (one.interest_paid, one.principal_paid) == (D("120.00"), D("1000.00"))
    assert (two.interest_paid, two.principal_paid) == (D("80.00"), D("0.00"))
    assert allocation.payments[0].interest == D("200.00")
    assert allocation.payments[0].principal == D("1000.00")


def test_backdated_payment_reallocates_in_date_order() -> None:
    schedule = generate_schedule(monthly_12k())
    later = pay(date(2024, 3, 1), "1110.00")
    earlier = pay(date(2024, 2, 1), "1120.00")

    allocation = allocate(schedule, [later, earlier])

    by_id = {p.payment_id: p for p in allocation.payments}
    assert (by_id[earlier.id].interest, by_id[earlier.id].principal) == (D("120.00"), D("1000.00"))
    assert (by_id[later.id].interest, by_id[later.id].principal) == (D("110.00"), D("1000.00"))


def test_reversed_payments_are_ignored() -> None:
    schedule = generate_schedule(monthly_12k())

    allocation = allocate(schedule, [pay(date(2024, 2, 1), "1120.00", reversed=True)])

    assert allocation.principal_outstanding == D("12000.00")
    assert allocation.payments == []


def test_payoff_waives_interest_of_periods_not_begun() -> None:
    schedule = generate_schedule(monthly_12k())
    payments = [pay(date(2024, 2, 1), "1120.00")]

    # On 15 Feb the second period has begun: its 110.00 interest is due; March onwards is waived.
    quote = payoff_quote(schedule, payments, date(2024, 2, 15))
    on_due_date = payoff_quote(schedule, payments, date(2024, 3, 1))

    assert (quote.principal, quote.interest, quote.total) == (
        D("11000.00"),
        D("110.00"),
        D("11110.00"),
    )
    assert on_due_date.total == D("11110.00")
    assert payoff_quote(schedule, [], date(2024, 1, 1)).total == D("12000.00")
    closed = allocate(schedule, [*payments, pay(date(2024, 2, 15), "11110.00")])
    assert closed.closed_on == date(2024, 2, 15)
    assert sum(i.interest_waived for i in closed.installments) == sum(
        i.interest for i in schedule[2:]
    )


def test_money_beyond_the_payoff_is_excess() -> None:
    schedule = generate_schedule(monthly_12k())

    allocation = allocate(
        schedule, [pay(date(2024, 1, 1), "12000.01"), pay(date(2024, 1, 2), "5.00")]
    )

    assert [p.excess for p in allocation.payments] == [D("0.01"), D("5.00")]
    assert payoff_quote(schedule, [], date(2024, 1, 1)).total == D("12000.00")


def test_delinquency_counts_from_the_oldest_unpaid_installment() -> None:
    schedule = generate_schedule(monthly_12k())
    payments = [pay(date(2024, 2, 1), "1120.00"), pay(date(2024, 3, 1), "500.00")]

    status = delinquency(schedule, payments, date(2024, 4, 15))

    # Installment 2 (due 1 Mar, 1,110.00) is 610.00 short; 3 (due 1 Apr, 1,100.00) is unpaid.
    assert status.days_past_due == 45
    assert status.overdue_amount == D("1710.00")
    assert status.next_due_date == date(2024, 5, 1)
    assert status.principal_outstanding == D("10610.00")
    assert status.bucket is Bucket.DPD_31_60
    assert delinquency(schedule, payments, date(2024, 3, 1)).bucket is Bucket.CURRENT
    assert delinquency(schedule, payments, date(2024, 3, 2)).days_past_due == 1


def test_delinquency_ignores_payments_after_the_as_of_date() -> None:
    schedule = generate_schedule(monthly_12k())

    status = delinquency(schedule, [pay(date(2024, 6, 1), "20000.00")], date(2024, 5, 1))

    assert status.days_past_due == 90
    assert status.bucket is Bucket.DPD_61_90
    assert delinquency(schedule, [], date(2024, 5, 2)).bucket is Bucket.DPD_90_PLUS


def test_closed_loan_is_current_with_nothing_outstanding() -> None:
    schedule = generate_schedule(monthly_12k())

    status = delinquency(schedule, [pay(date(2024, 1, 1), "12000.00")], date(2025, 6, 1))

    assert (status.days_past_due, status.overdue_amount, status.next_due_date) == (0, ZERO, None)
    assert status.principal_outstanding == status.interest_outstanding == 0


def test_state_machine_lists_what_is_allowed() -> None:
    assert next_status(LoanStatus.SUBMITTED, LoanCommand.APPROVE) is LoanStatus.APPROVED
    assert next_status(LoanStatus.APPROVED, LoanCommand.UNDO_APPROVAL) is LoanStatus.SUBMITTED
    assert next_status(LoanStatus.DRAFT, LoanCommand.APPROVE) is None
    assert allowed_commands(LoanStatus.APPROVED) == [
        LoanCommand.DISBURSE,
        LoanCommand.UNDO_APPROVAL,
    ]
    assert allowed_commands(LoanStatus.CLOSED) == []
