"""The event log's poison rows: a refused event is quarantined byte for byte and a safe
form of it is stored in its place (same server, run and seq), in one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Insert, Table, select

from callcenter.store.models import AMIEvent
from callcenter.store.quarantine import clean_text, is_transient, original_bytes, quarantine

Row = dict[str, Any]
TABLE: Table = AMIEvent.__table__  # type: ignore[assignment]
QUARANTINE_HEADER = "X-Callcenter-Quarantined"
# Column lengths of ami_events (store/models.py): a safe row is cut to them.
_LIMITS = {"event": 80, "uniqueid": 64, "linkedid": 64, "action_id": 64}


def safe_row(row: Row, quarantine_id: int, *, minimal: bool = False) -> Row:
    """A form of ``row`` every database stores: unstorable characters replaced, columns
    cut to their length, and a header naming the quarantined original."""
    safe = dict(row)
    for col, limit in _LIMITS.items():
        value = row.get(col)
        safe[col] = None if value is None else clean_text(value)[:limit]
    headers: dict[str, str] = {}
    if not minimal:
        headers = {clean_text(k): clean_text(v) for k, v in row["headers"].items()}
    headers[QUARANTINE_HEADER] = str(quarantine_id)
    safe["headers"] = headers
    return safe


def quarantine_row(engine: Engine, row: Row, error: str, stmt: Insert) -> int | None:
    """Quarantine one refused row and store its safe form, in one transaction; the
    quarantine id, or None when the row is stored already (a replay, a retry)."""
    key = (TABLE.c.server_id, TABLE.c.run_id, TABLE.c.seq)
    where = [c == row[c.name] for c in key]
    ref = f"{row['run_id']}:{row['seq']}"
    failure: Exception | None = None
    for minimal in (False, True):  # the whole safe form, or, if even that is refused, a stub
        try:
            with engine.begin() as conn:
                if conn.scalar(select(TABLE.c.id).where(*where)) is not None:
                    return None
                qid = quarantine(
                    conn,
                    server_id=row["server_id"],
                    kind="ami_event",
                    error=error,
                    original=original_bytes(row["headers"]),
                    ref=ref,
                )
                conn.execute(stmt, [safe_row(row, qid, minimal=minimal)])
                return qid
        except Exception as exc:
            if is_transient(exc):
                raise
            failure = exc
    assert failure is not None
    raise failure
