"""The raw event log by month, and its retention (issue 13, item 5).

On PostgreSQL ``ami_events`` is partitioned by the month of ``received_at`` (migration
0017): a month past the retention is dropped whole (no row-by-row DELETE, no bloat, no
vacuum of millions of dead rows), and a month's indexes stay the size of a month. A
``DEFAULT`` partition takes a row no month partition holds (a clock far off); a month
created later takes its rows over. The months ahead are created before they begin
(``ensure_months``), so the default stays empty.

On SQLite (one daemon, a small site) the same retention is a DELETE in batches.

Only the raw events go: calls, incidents, reports, the audit trail and the PBX record
are kept. A call older than the retention can no longer be rebuilt from its events (it
stays as stored).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, Table, delete, select, text

from callcenter.store.models import AMIEvent

TABLE: Table = AMIEvent.__table__  # type: ignore[assignment]
PARENT = "ami_events"
DEFAULT = "ami_events_default"
_NAME = re.compile(r"ami_events_y(\d{4})m(\d{2})")
DELETE_BATCH = 10_000


def month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def partition_name(year: int, month: int) -> str:
    return f"ami_events_y{year:04d}m{month:02d}"


def months_from(at: datetime, ahead: int) -> list[tuple[int, int]]:
    """The month of ``at`` (UTC) and the ``ahead`` after it."""
    at = at.astimezone(UTC)
    out = [(at.year, at.month)]
    for _ in range(ahead):
        out.append(next_month(*out[-1]))
    return out


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.scalar(text("SELECT relkind FROM pg_class WHERE relname = :n"), {"n": PARENT})
    return bool(kind == "p")


def existing_months(conn: Connection) -> dict[tuple[int, int], str]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :n"
        ),
        {"n": PARENT},
    )
    out = {}
    for (name,) in rows:
        m = _NAME.fullmatch(name)
        if m:
            out[(int(m[1]), int(m[2]))] = name
    return out


def ensure_months(conn: Connection, months: Iterable[tuple[int, int]]) -> list[str]:
    """Create the month partitions that do not exist yet, taking over any row of theirs
    from the default partition. Returns the names created."""
    have = existing_months(conn)
    made = []
    for year, month in sorted(set(months)):
        if (year, month) in have:
            continue
        name = partition_name(year, month)
        lo, hi = month_start(year, month), month_start(*next_month(year, month))
        # Names and bounds are made here from integers: nothing from outside.
        conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
        conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT} WHERE received_at >= :lo "  # noqa: S608
                f"AND received_at < :hi RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            ),
            {"lo": lo, "hi": hi},
        )
        conn.execute(
            text(
                f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
                f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
            )
        )
        made.append(name)
    return made


def prune_events(engine: Engine, keep_days: int, now: datetime) -> int:
    """Drop the raw events received before ``now - keep_days`` (0: keep them all): on
    PostgreSQL the months wholly before it, and the default partition's rows before it;
    on SQLite the rows, in batches. Returns how many months (PostgreSQL) or rows (SQLite)
    went."""
    if keep_days <= 0:
        return 0
    cutoff = now.astimezone(UTC) - timedelta(days=keep_days)
    with engine.begin() as conn:
        if is_partitioned(conn):
            dropped = 0
            for (year, month), name in sorted(existing_months(conn).items()):
                if month_start(*next_month(year, month)) <= cutoff:
                    conn.execute(text(f"DROP TABLE {name}"))
                    dropped += 1
            conn.execute(text(f"DELETE FROM {DEFAULT} WHERE received_at < :c"), {"c": cutoff})  # noqa: S608
            return dropped
    removed = 0
    while True:
        with engine.begin() as conn:
            ids = select(TABLE.c.id).where(TABLE.c.received_at < cutoff).limit(DELETE_BATCH)
            n = conn.execute(delete(TABLE).where(TABLE.c.id.in_(ids))).rowcount
        removed += n
        if n < DELETE_BATCH:
            return removed
