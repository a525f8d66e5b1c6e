"""Lending's events name the loan's readers as their audience."""

from __future__ import annotations

from bazaar.lending.events import PaymentReversed
from bazaar.realtime.routing import audience_channels


def _reversal(customer_user_id: str | None) -> PaymentReversed:
    return PaymentReversed(
        loan_id="l",
        customer_id="c",
        officer_id="o",
        customer_user_id=customer_user_id,
        payment_id="p",
    )


def test_lending_events_go_to_admins_the_portfolio_and_the_borrower() -> None:
    with_borrower = _reversal("u").audience()
    without = _reversal(None).audience()

    assert set(audience_channels(with_borrower)) == {"role:admin", "officer:o", "user:u"}
    assert set(audience_channels(without)) == {"role:admin", "officer:o"}
