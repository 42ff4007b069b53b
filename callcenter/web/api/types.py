"""The field types of the API's models: each carries its rule and its JSON Schema, so
a limit is stated once and both enforced and published.

- ``Annotated[str, Text(n)]``: a string of at most ``n`` characters, not blank, that a
  person could have typed (tabs and line breaks allowed; other control characters, NUL
  above all, which PostgreSQL refuses, never).
- ``Blankable(n)``: the same, empty allowed (notes).
- ``OneLine(n)``: text bound for the PBX (a pause reason, a note kept in AstDB): one
  line, no control character at all (``callcenter.text``).
- ``Instant``: an ISO 8601 date-time with its UTC offset, read in UTC; written back as
  ``isoformat()`` (``+00:00``, as the webhooks and the history have always shown it).
- ``Day`` and ``Month``: ``YYYY-MM-DD`` and ``YYYY-MM`` in a query.
- ``Omittable[T]``: a field that may be left out, but not sent as null (the schema shows
  it without its null branch; ``"priority": null`` is refused naming the field).

Dates are taken from 1970 to 9000: nothing here happened before 1970, and the
arithmetic on a date in 9999 (its next day, next month) overflows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from annotated_types import GroupedMetadata
from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from callcenter.text import describe, forbidden_character

T = TypeVar("T")

FIRST_YEAR, LAST_YEAR = 1970, 9000
ID_MAX = 2**63 - 1  # ids are 64-bit in the database

# Tabs and line breaks are text; the other C0 controls and DEL are not.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same rules for a client that reads the schema (ECMA-262 regex, as JSON Schema's).
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
NONBLANK_PATTERN = (
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
)
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def refuse(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    """A refusal whose message is the API's own (``problems.describe`` shows it as is)."""
    return PydanticCustomError(kind, message, ctx or None)


def _not_null(value: object) -> object:
    if value is None:
        raise refuse("not_null", "must not be null")
    return value


def _typed_text(value: object) -> object:
    if isinstance(value, str) and _CONTROL.search(value):
        raise refuse("control_character", "must not contain control characters")
    return value


def _nonblank(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise refuse("blank", "must not be empty")
    return value


def _one_line(value: object) -> object:
    if isinstance(value, str) and (bad := forbidden_character(value)) is not None:
        raise refuse(
            "control_character",
            f"must be one line without control characters (found {describe(bad)})",
        )
    return value


Omittable = Annotated[T | SkipJsonSchema[None], BeforeValidator(_not_null)]


@dataclass(frozen=True)
class _TextRule(GroupedMetadata):
    """``Annotated[str, Text(80)]``: the rules of a text field, and its schema."""

    max_length: int
    blank: bool = False
    one_line: bool = False

    def __iter__(self) -> Iterator[object]:
        yield Field(max_length=self.max_length)
        yield BeforeValidator(_typed_text)
        if not self.blank:
            yield BeforeValidator(_nonblank)
        if self.one_line:
            yield BeforeValidator(_one_line)
        if self.one_line:
            pattern = ONE_LINE_PATTERN
        else:
            pattern = TEXT_PATTERN if self.blank else NONBLANK_PATTERN
        # The pattern is published only: the validators above say which rule failed.
        schema: dict[str, Any] = {
            "type": "string",
            "maxLength": self.max_length,
            "pattern": pattern,
        }
        if not self.blank:
            schema["minLength"] = 1
        yield WithJsonSchema(schema, mode="validation")


def Text(max_length: int) -> _TextRule:
    return _TextRule(max_length)


def Blankable(max_length: int) -> _TextRule:
    return _TextRule(max_length, blank=True)


def OneLine(max_length: int) -> _TextRule:
    return _TextRule(max_length, blank=True, one_line=True)


def _check_year(text: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise refuse("out_of_range", f"{text!r} is out of range ({FIRST_YEAR} to {LAST_YEAR})")


def _instant(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return value  # the strict datetime check names the type
    if len(value) > 40:
        raise refuse("string_too_long", "at most 40 characters")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise refuse("datetime", f"{value!r} is not an ISO 8601 date-time") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise refuse("naive", f"{value!r} has no UTC offset (e.g. +09:00 or Z)")
    _check_year(value, at.year)
    return at.astimezone(UTC)


def _iso(at: datetime) -> str:
    return at.isoformat()


Instant = Annotated[
    datetime,
    BeforeValidator(_instant),
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


# An answer's time, written as it is held (in its own zone, ``isoformat()``).
Time = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def parse_day(value: object) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise refuse("date", f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise refuse("date", f"{value!r} is not a date (YYYY-MM-DD)") from None
    _check_year(value, d.year)
    return d


def _month(value: object) -> object:
    m = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise refuse("month", f"{value!r} is not a month (YYYY-MM)")
    _check_year(str(value), int(m.group(1)))
    return value


Day = Annotated[
    date,
    BeforeValidator(parse_day),
    PlainSerializer(date.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date"}),
]
Month = Annotated[
    str,
    BeforeValidator(_month),
    # Years 1970 to 9000, as the check above.
    WithJsonSchema({"type": "string", "pattern": r"^(19[7-9]\d|[2-8]\d{3}|9000)-(0[1-9]|1[0-2])$"}),
]
Id = Annotated[int, Field(ge=1, le=ID_MAX)]
