"""Decimals and dates as a client must spell them, and nothing that merely converts to them.

FastAPI validates a request body in Python mode, after `json.loads`, where pydantic's lax mode
reads far more than the API means: the JSON number 1.0000000000000000001 arrives as the float
1.0; "1_0" and Arabic-Indic digits parse as ten; "1e2" is kept as `Decimal("1E+2")` and echoed
so; a date may be a Unix time (`0` or "0" is 1970-01-01). Pydantic's strict mode would refuse
the ISO strings too (in Python mode a strict date is a `date` object), so these types say
exactly what they take: a `Decimal` or `date` object (the services' own values), or one
canonical string.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema

CANONICAL_DECIMAL = r"^(0|[1-9][0-9]*)(\.[0-9]+)?$"
_DECIMAL = re.compile(CANONICAL_DECIMAL.strip("^$"))
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def canonical_decimal(value: object) -> object:
    """ASCII digits with at most one point between them: no sign, exponent, separator, space
    or leading zero. Not a JSON number, which has been a float by now."""
    if isinstance(value, Decimal) and value.is_finite() and not value.is_signed():
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    raise ValueError('must be a string of digits with an optional decimal point, e.g. "1250.50"')


def iso_date(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        return value  # pydantic parses it, and refuses a day that does not exist
    raise ValueError('must be a date string YYYY-MM-DD, e.g. "2026-01-31"')


DecimalString = Annotated[
    Decimal,
    BeforeValidator(canonical_decimal),
    WithJsonSchema({"type": "string", "pattern": CANONICAL_DECIMAL}),
]
IsoDate = Annotated[date, BeforeValidator(iso_date)]


def iso_datetime(value: object) -> object:
    if isinstance(value, datetime | str):
        return value  # pydantic parses a string as ISO 8601 and refuses anything else in it
    raise ValueError('must be an ISO 8601 date-time string, e.g. "2026-01-31T09:00:00Z"')


IsoDateTime = Annotated[datetime, BeforeValidator(iso_datetime)]
"""A date-time as an ISO 8601 string, never a number read as a Unix time."""
AwareIsoDateTime = Annotated[AwareDatetime, BeforeValidator(iso_datetime)]
"""The same with its offset or `Z`: an instant, comparable with any other."""
