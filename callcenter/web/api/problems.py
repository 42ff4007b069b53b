"""A model's refusal as the API's error: a 422 naming the field, in words a person reads.

pydantic reports every problem; a client is told the first, the unknown fields before
the others (a typo such as ``priorty`` explains whatever else looks wrong). The words
are the API's: "a string is needed, not a number", "at most 64 characters (got 70)".
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from callcenter.web.errors import ApiError, invalid

# pydantic's own messages for these are kept out: they quote Python's type names.
_TYPE_NEEDED = {
    "string_type": "a string is needed",
    "int_type": "an integer is needed",
    "int_parsing": "an integer is needed",
    "int_from_float": "an integer is needed",
    "bool_type": "true or false is needed",
    "bool_parsing": "true or false is needed",
    "float_type": "a number is needed",
    "float_parsing": "a number is needed",
    "list_type": "an array is needed",
    "tuple_type": "an array is needed",
    "dict_type": "an object is needed",
    "model_type": "an object is needed",
    "model_attributes_type": "an object is needed",
    "datetime_type": "a date-time string is needed",
    "date_type": "a date string is needed",
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return "an object"


def _choices(expected: str) -> str:
    # pydantic's "'low', 'normal' or 'high'" as "low, normal, high".
    found = re.findall(r"'((?:[^'\\]|\\.)*)'", expected)
    return ", ".join(found) if found else expected


def describe(error: ErrorDetails) -> str:
    """The words for one of pydantic's errors (without the field)."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in _TYPE_NEEDED:
        if value is None:
            return "must not be null"
        return f"{_TYPE_NEEDED[kind]}, not {json_type(value)}"
    if kind == "literal_error" or kind == "enum":
        if not isinstance(value, str):
            return f"a string is needed, not {json_type(value)}"
        return f"{value!r} is not one of {_choices(str(ctx.get('expected', '')))}"
    if kind == "string_unicode":
        return "is not valid Unicode (a lone surrogate)"
    if kind == "string_too_long":
        got = f" (got {len(value)})" if isinstance(value, str) else ""
        return f"at most {ctx.get('max_length')} characters{got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return f"at least {ctx.get('min_length')} item(s) are needed"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"at least {bound} (got {value})" if kind.endswith("equal") else f"above {bound}"
    if kind in ("less_than_equal", "less_than"):
        return f"at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not have the expected form"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    return error["msg"]  # our own refusals (types.refuse) carry the API's words


def _field(loc: tuple[int | str, ...]) -> str:
    # The request's own field: list positions and pydantic's union branches are not.
    return str(loc[0]) if loc else ""


def as_api_error(exc: ValidationError, known: Collection[str], *, what: str = "field") -> ApiError:
    """The first of ``exc``'s problems as a 422 naming its field."""
    errors = exc.errors(include_url=False)
    unknown = sorted({_field(e["loc"]) for e in errors if e["type"] == "extra_forbidden"})
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        return invalid(unknown[0], f"unknown {what} {', '.join(unknown)} (known: {names})")
    # Of a union (Omittable), the null branch's complaint is noise.
    relevant = [e for e in errors if e["type"] != "none_required"] or errors
    first = relevant[0]
    field = _field(first["loc"])
    if not field:
        return ApiError(422, describe(first))
    return invalid(field, describe(first))
