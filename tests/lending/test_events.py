"""Lending's events name the loan's readers as their audience."""

from __future__ import annotations

from bazaar.lending.events import PaymentReversed
from bazaar.realtime.routing import audience_channels

IDS = {"loan_id": "l", "customer_id": "c", "officer_id": "o", "customer_user_id": "u"}


def test_lending_events_go_to_admins_the_portfolio_and_the_borrower() -> None:
    with_borrower = PaymentReversed(**IDS, payment_id="p").audience()
    without = PaymentReversed(**{**IDS, "customer_user_id": None}, payment_id="p").audience()

    assert set(audience_channels(with_borrower)) == {"role:admin", "officer:o", "user:u"}
    assert set(audience_channels(without)) == {"role:admin", "officer:o"}
