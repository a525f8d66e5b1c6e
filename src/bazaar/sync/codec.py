"""Row values to JSON and back, so a snapshot survives the wire exactly.

Money and rates travel as decimal strings (never floats), ids as strings, times as ISO 8601.
Decoding goes by the `Mapped[...]` annotation of the attribute, which says what Python type
the column holds whatever its storage (Money is an integer of minor units in the database).
"""

from __future__ import annotations

import types
import typing
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import inspect


def encode(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        # One spelling per number ("12.5", never "12.50" beside it), so snapshots compare.
        return format(value.normalize(), "f")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _unwrap(hint: Any) -> Any:
    (inner,) = typing.get_args(hint)  # Mapped[X]
    if isinstance(inner, types.UnionType) or typing.get_origin(inner) is typing.Union:
        inner = next(arg for arg in typing.get_args(inner) if arg is not type(None))
    return inner


_FIELD_TYPES: dict[type[Any], dict[str, Any]] = {}


def field_types(model: type[Any]) -> dict[str, Any]:
    """Attribute name -> Python type, for every column attribute of a mapped class."""
    if model not in _FIELD_TYPES:
        hints = typing.get_type_hints(model)
        attrs = inspect(model).column_attrs
        _FIELD_TYPES[model] = {a.key: _unwrap(hints[a.key]) for a in attrs}
    return _FIELD_TYPES[model]


def decode(target: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(target, type) and issubclass(target, Enum):
        return target(value)
    if target is uuid.UUID:
        return uuid.UUID(str(value))
    if target is Decimal:
        return Decimal(value)
    if target is datetime:
        return datetime.fromisoformat(value)
    if target is date:
        return date.fromisoformat(value)
    return value


def decode_row(model: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    kinds = field_types(model)
    return {name: decode(kinds[name], value) for name, value in data.items() if name in kinds}
