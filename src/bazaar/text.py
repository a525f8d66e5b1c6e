"""Text a client sends: names, emails, notes, search terms.

No field here means a control character, and some break storage: PostgreSQL refuses NUL in
text (the request answered 500, even a login), and a lone surrogate (`"\\ud800"` in JSON) cannot
be encoded as UTF-8 on either backend. `Line` refuses every control character (C0, DEL, C1) and
lone surrogates; `Lines` allows tab and newline, for multi-line text such as notes or an address.
Both answer 422 `validation_error` naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

_NOT_IN_A_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def line(value: str) -> str:
    if _NOT_IN_A_LINE.search(value):
        raise ValueError("must not contain control characters")
    return value


def lines(value: str) -> str:
    if _NOT_IN_LINES.search(value):
        raise ValueError("must not contain control characters other than tab and newline")
    return value


def json_text(value: Any) -> Any:
    """`value`, a decoded JSON document whose keys are `line`s and whose strings are `lines`:
    for free-form payloads that reach the database without a model of their fields."""
    if isinstance(value, str):
        return lines(value)
    if isinstance(value, list):
        for item in value:
            json_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            line(key)
            json_text(item)
    return value


Line = Annotated[str, AfterValidator(line)]
Lines = Annotated[str, AfterValidator(lines)]
