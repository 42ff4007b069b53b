"""Reading request bodies and query strings, refusing bad input with the field named.

A body that is not JSON, or not a JSON object, is a 400: the request as a whole is
malformed. A well-formed body or query with a bad value, a missing required field or
a field we do not know is a 422 naming that field, so a client (or a person reading
its log) sees what to fix. Unknown fields are refused rather than ignored: a typo
("priorty") would otherwise be a silent no-op.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from callcenter.text import describe, forbidden_character
from callcenter.web.errors import ApiError, invalid

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
# Dates and times outside these years are refused: nothing here happened before 1970,
# and the arithmetic on a date in 9999 (the next day, the next month) overflows.
FIRST_YEAR, LAST_YEAR = 1970, 9000
# Ids are 64-bit in the database.
ID_MAX = 2**63 - 1
# Text may hold tabs and line breaks; other control characters (NUL above all: the
# database refuses it) and lone surrogates (not encodable) never.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(name: str, value: str) -> str:
    """``value`` if it is text a person could have typed; a 422 naming ``name`` if not."""
    if _CONTROL.search(value):
        raise invalid(name, "must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(name, "is not valid Unicode (a lone surrogate)") from None
    return value


def _check_year(name: str, value: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise invalid(name, f"{value!r} is out of range ({FIRST_YEAR} to {LAST_YEAR})")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` (actions whose fields are all
    optional may be posted without one)."""
    raw = await request.read()
    return parse_object(raw)


def parse_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        # NaN and Infinity are Python's extension, not JSON.
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {_short(exc)}") from None
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object, not {_json_type(data)}")
    return data


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _refuse_unknown(given: Iterable[str], allowed: Collection[str], what: str) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise invalid(unknown[0], f"unknown {what} {', '.join(unknown)} (known: {known})")


def one_of(name: str, value: str, choices: Collection[str]) -> str:
    if value not in choices:
        raise invalid(name, f"{value!r} is not one of {', '.join(choices)}")
    return value


class Body:
    """The fields of a JSON object body, checked one by one."""

    def __init__(self, data: Mapping[str, Any], allowed: Collection[str]) -> None:
        _refuse_unknown(data, allowed, "field")
        self.data = data

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def _get(self, name: str, *, required: bool, nullable: bool) -> Any:
        if name not in self.data:
            if required:
                raise invalid(name, "is required")
            return None
        value = self.data[name]
        if value is None and not nullable:
            raise invalid(name, "must not be null")
        return value

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        nullable: bool = False,
        max_length: int = 200,
        blank: bool = False,
        one_line: bool = False,
    ) -> str | None:
        """A string (None when absent, or null where null is allowed).

        ``one_line``: text that goes to the PBX, which refuses control characters, line
        breaks and lone surrogates (callcenter.text).
        """
        value = self._get(name, required=required, nullable=nullable)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid(name, f"a string is needed, not {_json_type(value)}")
        if not blank and not value.strip():
            raise invalid(name, "must not be empty")
        if len(value) > max_length:
            raise invalid(name, f"at most {max_length} characters (got {len(value)})")
        if one_line and (bad := forbidden_character(value)) is not None:
            raise invalid(
                name,
                f"must be one line without control characters (found {describe(bad)})",
            )
        return check_text(name, value)

    def required_text(self, name: str, *, max_length: int = 200, one_line: bool = False) -> str:
        value = self.text(name, required=True, max_length=max_length, one_line=one_line)
        assert value is not None
        return value

    def choice(self, name: str, choices: Collection[str]) -> str | None:
        value = self._get(name, required=False, nullable=False)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid(name, f"a string is needed, not {_json_type(value)}")
        return one_of(name, value, choices)

    def choices(self, name: str, choices: Collection[str]) -> list[str] | None:
        """An array of distinct values from ``choices``."""
        value = self._get(name, required=False, nullable=False)
        if value is None:
            return None
        if not isinstance(value, list):
            raise invalid(name, f"an array is needed, not {_json_type(value)}")
        out: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise invalid(name, f"an array of strings is needed, got {_json_type(item)}")
            if item not in out:
                out.append(one_of(name, item, choices))
        return out

    def integer(
        self,
        name: str,
        *,
        nullable: bool = False,
        minimum: int | None = None,
        maximum: int = ID_MAX,
    ) -> int | None:
        value = self._get(name, required=False, nullable=nullable)
        if value is None:
            return None
        # bool is an int to Python but not to a JSON client.
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, f"an integer is needed, not {_json_type(value)}")
        if minimum is not None and value < minimum:
            raise invalid(name, f"at least {minimum} (got {value})")
        if value > maximum:
            raise invalid(name, f"at most {maximum}")
        return value

    def integers(
        self, name: str, *, minimum: int, maximum: int, required: bool = False
    ) -> list[int] | None:
        value = self._get(name, required=required, nullable=False)
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            raise invalid(name, "a non-empty array of integers is needed")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int):
                raise invalid(name, f"an array of integers is needed, got {_json_type(item)}")
            if not minimum <= item <= maximum:
                raise invalid(name, f"each from {minimum} to {maximum} (got {item})")
        return list(value)

    def instant(self, name: str) -> datetime | None:
        """An ISO 8601 date-time with its UTC offset (a naive time is ambiguous), in UTC."""
        value = self.text(name, max_length=40)
        if value is None:
            return None
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise invalid(name, f"{value!r} is not an ISO 8601 date-time") from None
        if at.tzinfo is None or at.utcoffset() is None:
            raise invalid(name, f"{value!r} has no UTC offset (e.g. +09:00 or Z)")
        _check_year(name, value, at.year)
        return at.astimezone(UTC)


class Query:
    """A query string's parameters, checked one by one; each may be given once."""

    def __init__(self, query: MultiMapping[str], allowed: Collection[str]) -> None:
        _refuse_unknown(query.keys(), allowed, "parameter")
        self.query = query

    def text(self, name: str, *, max_length: int = 200) -> str | None:
        values = self.query.getall(name, [])
        if not values:
            return None
        if len(values) > 1:
            raise invalid(name, "given more than once")
        value = values[0]
        if not value.strip():
            raise invalid(name, "must not be empty")
        if len(value) > max_length:
            raise invalid(name, f"at most {max_length} characters")
        return check_text(name, value)

    def choices(self, name: str, choices: Collection[str]) -> tuple[str, ...]:
        """Repeated (``?status=a&status=b``) or comma-separated (``?status=a,b``)."""
        out: list[str] = []
        for raw in self.query.getall(name, []):
            for part in raw.split(","):
                value = one_of(name, part.strip(), choices)
                if value not in out:
                    out.append(value)
        return tuple(out)

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise invalid(name, f"{value!r} is not true or false")

    def integer(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not re.fullmatch(r"[+-]?\d{1,12}", value.strip()):
            raise invalid(name, f"{value!r} is not an integer")
        number = int(value)
        if not minimum <= number <= maximum:
            raise invalid(name, f"from {minimum} to {maximum} (got {number})")
        return number

    def day(self, name: str, tz: tzinfo) -> datetime | None:
        """``YYYY-MM-DD``: the first instant of that day in ``tz`` (the service's zone)."""
        value = self.text(name)
        if value is None:
            return None
        if not _DATE.fullmatch(value):
            raise invalid(name, f"{value!r} is not a date (YYYY-MM-DD)")
        try:
            d = date.fromisoformat(value)
        except ValueError:
            raise invalid(name, f"{value!r} is not a date (YYYY-MM-DD)") from None
        _check_year(name, value, d.year)
        return datetime(d.year, d.month, d.day, tzinfo=tz)

    def month(self, name: str) -> tuple[int, int] | None:
        """``YYYY-MM``: (year, month)."""
        value = self.text(name)
        if value is None:
            return None
        m = _MONTH.fullmatch(value)
        if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
            raise invalid(name, f"{value!r} is not a month (YYYY-MM)")
        _check_year(name, value, int(m.group(1)))
        return int(m.group(1)), int(m.group(2))
