"""Quarantine: keep what the database refuses, and tell a refusal from an outage.

A writer that retries a refused row forever is stuck for good (the row never changes);
one that drops it loses data. So a writer retries *transient* errors (the database is
down, the connection broke) and, on a *data* error, stores the refused thing here, byte
for byte, and goes on. ``original`` is ``json.dumps(..., ensure_ascii=True)``: a NUL or
a lone surrogate, which PostgreSQL refuses in text and JSONB, survives as an escape and
``json.loads`` gives back exactly what came in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    StatementError,
)

from callcenter.store.models import QuarantineRow

KINDS = ("ami_event", "call", "incident_job")
ERROR_CHARS = 300
# Characters no database text column takes: NUL and UTF-16 surrogates (a header decoded
# with surrogateescape carries one per invalid byte).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_transient(exc: BaseException) -> bool:
    """True for an outage (retry the same thing later), False for a refusal of the data.

    Anything not known to be an outage counts as a refusal: retrying it unchanged would
    fail the same way forever. (A refusal that is really an outage in disguise is not
    lost either: storing its quarantine fails too, and that is retried.)
    """
    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | OSError)


def short_error(exc: BaseException) -> str:
    """The error's type and first line, without the statement or its parameters (which
    SQLAlchemy appends to its messages, and which may hold anything)."""
    inner: BaseException = exc
    if isinstance(exc, StatementError) and exc.orig is not None:
        inner = exc.orig
    text = str(inner).strip().splitlines()
    first = text[0] if text else ""
    name = type(exc).__name__
    if inner is not exc:
        name = f"{name}({type(inner).__name__})"
    return clean_text(f"{name}: {first}")[:ERROR_CHARS]


def clean_text(value: str) -> str:
    """``value`` with NUL and lone surrogates replaced by U+FFFD (storable anywhere)."""
    if value.isascii() and "\x00" not in value:
        return value
    return _UNSTORABLE.sub("\ufffd", value)


def original_bytes(value: Any) -> bytes:
    """Exact, storable bytes of ``value`` (anything not JSON becomes its repr)."""
    return json.dumps(value, ensure_ascii=True, default=repr, sort_keys=False).encode("ascii")


def quarantine(
    conn: Connection,
    *,
    server_id: str,
    kind: str,
    error: str,
    original: bytes,
    ref: str | None = None,
    at: datetime | None = None,
) -> int:
    """Store one refused thing; its quarantine id (in the caller's transaction)."""
    assert kind in KINDS, kind
    result = conn.execute(
        insert(QuarantineRow),
        {
            "server_id": clean_text(server_id)[:40],
            "kind": kind,
            "ref": None if ref is None else clean_text(ref)[:120],
            "at": at or datetime.now(UTC),
            "error": clean_text(error)[:ERROR_CHARS],
            "original": original,
        },
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def record_original(thing: object) -> bytes:
    """Exact bytes of a dataclass job or record (anything else: its repr)."""
    # A field that cannot be copied: fall through to the repr.
    with contextlib.suppress(Exception):
        if dataclasses.is_dataclass(thing) and not isinstance(thing, type):
            return original_bytes(dataclasses.asdict(thing))
    return original_bytes({"repr": repr(thing)})


def store_quarantined(
    engine: Engine,
    *,
    server_id: str,
    kind: str,
    error: str,
    original: bytes,
    ref: str | None = None,
) -> int:
    """``quarantine`` in a transaction of its own (for a writer that has none open)."""
    with engine.begin() as conn:
        return quarantine(
            conn, server_id=server_id, kind=kind, error=error, original=original, ref=ref
        )
