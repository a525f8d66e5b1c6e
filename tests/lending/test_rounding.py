"""Schedules against an exact-fraction oracle: every amount is rounded once, half to even, and
equal installments stay level over the whole range of terms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from bazaar.lending.rules import (
    LEVEL_TOLERANCE,
    PERIODS_PER_YEAR,
    Amortization,
    Frequency,
    InterestMethod,
    LoanTerms,
    ScheduledInstallment,
    generate_schedule,
)
from bazaar.money import minor_unit

START = date(2026, 1, 5)


def half_even(value: Fraction, currency: str) -> Decimal:
    """The oracle: `value` to the currency's minor unit, half to even, in exact arithmetic."""
    unit = Fraction(minor_unit(currency))
    units, rest = divmod(value / unit, 1)
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and units % 2 == 1):
        units += 1
    return Decimal(int(units)) * minor_unit(currency)


def oracle_interest(terms: LoanTerms, schedule: list[ScheduledInstallment]) -> list[Decimal]:
    """Each period's interest on the balance the schedule leaves, by the oracle."""
    rate = Fraction(terms.annual_rate) / (100 * PERIODS_PER_YEAR[terms.frequency])
    balance, found = Fraction(terms.principal), []
    for installment in schedule:
        found.append(half_even(balance * rate, terms.currency))
        balance -= Fraction(installment.principal)
    return found


terms = st.builds(
    LoanTerms,
    principal=st.decimals(min_value=Decimal("1000.00"), max_value=Decimal("5000000.00"), places=2),
    annual_rate=st.decimals(min_value=Decimal("0"), max_value=Decimal("60"), places=2),
    installments=st.integers(min_value=1, max_value=360),
    disbursement_date=st.just(START),
    frequency=st.sampled_from(list(Frequency)),
    interest_method=st.sampled_from(list(InterestMethod)),
    amortization=st.sampled_from(list(Amortization)),
)


@settings(max_examples=150, deadline=None)
@given(terms)
def test_every_interest_amount_is_rounded_once_half_to_even(loan: LoanTerms) -> None:
    schedule = generate_schedule(loan)
    if loan.interest_method is InterestMethod.FLAT:
        periods = 100 * PERIODS_PER_YEAR[loan.frequency]
        exact = Fraction(loan.principal) * Fraction(loan.annual_rate) * loan.installments / periods
        assert sum(i.interest for i in schedule) == half_even(exact, loan.currency)
    else:
        assert [i.interest for i in schedule] == oracle_interest(loan, schedule)


def test_the_ties_found_outside_round_to_even() -> None:
    weekly = generate_schedule(
        LoanTerms(
            principal=Decimal("2096152.48"),
            annual_rate=Decimal("15"),
            installments=354,
            disbursement_date=START,
            frequency=Frequency.WEEKLY,
        )
    )
    flat = generate_schedule(
        LoanTerms(
            principal=Decimal("1845995.25"),
            annual_rate=Decimal("50"),
            installments=60,
            disbursement_date=START,
            interest_method=InterestMethod.FLAT,
        )
    )
    balance = Fraction(Decimal("2096152.48")) - sum(Fraction(i.principal) for i in weekly[:12])

    # Installment 13's interest is exactly 5,926.605 when its balance makes it a tie.
    assert weekly[12].interest == half_even(balance * Fraction(15, 5200), "INR")
    assert sum(i.interest for i in flat) == Decimal("4614988.12")  # 4,614,988.125


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=Decimal("10.00"), max_value=Decimal("10000000.00"), places=2),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("60"), places=2),
    st.integers(min_value=1, max_value=360),
    st.sampled_from(list(Frequency)),
    st.integers(min_value=0, max_value=3),
)
def test_equal_installments_stay_level_over_the_whole_range(
    principal: Decimal, rate: Decimal, count: int, frequency: Frequency, grace: int
) -> None:
    loan = LoanTerms(
        principal=principal,
        annual_rate=rate,
        installments=count,
        disbursement_date=START,
        frequency=frequency,
        grace_on_principal=min(grace, count - 1),
    )
    amortizing = [i.total for i in generate_schedule(loan)[loan.grace_on_principal :]]

    assert max(amortizing) - min(amortizing) <= LEVEL_TOLERANCE * minor_unit("INR")


def test_long_high_rate_loans_end_without_a_bullet() -> None:
    for rate in ("36", "57.72"):
        loan = LoanTerms(
            principal=Decimal("100000.00"),
            annual_rate=Decimal(rate),
            installments=360,
            disbursement_date=START,
        )
        totals = [i.total for i in generate_schedule(loan)]
        assert max(totals) - min(totals) <= LEVEL_TOLERANCE * minor_unit("INR"), rate
