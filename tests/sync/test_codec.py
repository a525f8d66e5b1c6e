from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bazaar.lending.models import Loan
from bazaar.lending.rules import LoanStatus
from bazaar.sync.codec import decode_row, encode

MONEY = st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False)
RATES = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


@given(
    principal=MONEY,
    rate=RATES,
    due=st.dates(),
    created=st.datetimes(timezones=st.just(UTC)),
    status=st.sampled_from(list(LoanStatus)),
    officer=st.uuids(),
)
def test_a_row_survives_the_wire_exactly(
    principal: Decimal,
    rate: Decimal,
    due: date,
    created: datetime,
    status: LoanStatus,
    officer: uuid.UUID,
) -> None:
    row = {
        "principal": principal,
        "annual_rate": rate,
        "oldest_unpaid_due": due,
        "created_at": created,
        "status": status,
        "officer_id": officer,
        "first_repayment_date": None,
    }
    wire = {name: encode(value) for name, value in row.items()}
    assert all(not isinstance(v, float) for v in wire.values())
    assert decode_row(Loan, wire) == row


def test_equal_amounts_have_one_spelling() -> None:
    assert encode(Decimal("12.50")) == encode(Decimal("12.5")) == "12.5"
    assert encode(Decimal("1E+2")) == "100"
