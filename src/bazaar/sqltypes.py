"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Enum
from sqlalchemy.types import TypeDecorator

from bazaar.money import CENT, MAX_PLACES


def str_enum(kind: type[StrEnum], name: str, *, length: int = 32) -> Enum:
    """A StrEnum column holding its members' values in a VARCHAR, not a native enum type, so
    both backends store the same strings."""
    return Enum(
        kind,
        native_enum=False,
        length=length,
        name=name,
        values_callable=lambda members: [m.value for m in members],
    )


class Money(TypeDecorator[Decimal]):
    """A Decimal stored as an integer number of thousandths, so that every currency's minor unit
    (ISO 4217: 0, 2 or 3 places) is exact.

    SQLite has no exact decimal type: NUMERIC columns round-trip through float, and SUM() over
    them loses cents. Integers are exact on both backends, including in aggregates. A column
    does not know its row's currency, so values read back with two places, or three when the
    third is not zero; the API writes each amount with its currency's places (`in_currency`).
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"Money columns take Decimal, got {type(value).__name__}")
        stored = value.scaleb(MAX_PLACES)
        if stored != stored.to_integral_value():
            raise ValueError(f"{value} has more than {MAX_PLACES} decimal places")
        return int(stored)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        amount = Decimal(int(value)).scaleb(-MAX_PLACES)
        cents = amount.quantize(CENT)
        return cents if cents == amount else amount


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out; SQLite would otherwise hand back naive times."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
