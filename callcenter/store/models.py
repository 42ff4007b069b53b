"""Database tables (SQLAlchemy 2.x). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid).
BigId = BigInteger().with_variant(Integer(), "sqlite")
Headers = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class AMIEvent(Base):
    """Every AMI event as received: append-only, never updated."""

    __tablename__ = "ami_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    # run_id + seq identify an event within one daemon run, so a batch retried after an
    # ambiguous failure (commit sent, answer lost) is not stored twice.
    run_id: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event: Mapped[str] = mapped_column(String(80))
    uniqueid: Mapped[str | None] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    action_id: Mapped[str | None] = mapped_column(String(64))
    headers: Mapped[dict[str, Any]] = mapped_column(Headers)

    __table_args__ = (
        Index("ux_ami_events_run_seq", "server_id", "run_id", "seq", unique=True),
        Index("ix_ami_events_received", "received_at"),
        Index("ix_ami_events_linkedid", "linkedid"),
    )


class Call(Base):
    """One finished inbound call (see docs/metrics.md). Derived from the event log."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(40))
    linkedid: Mapped[str] = mapped_column(String(64))
    arrived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Day and hour of arrival in the service time zone, stored so that grouping is the
    # same plain GROUP BY on SQLite and PostgreSQL, and index-friendly.
    local_day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    caller_num: Mapped[str] = mapped_column(String(64))
    caller_name: Mapped[str] = mapped_column(String(128))
    dnis: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    ivr_path: Mapped[list[str]] = mapped_column(Headers)
    busy_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agent: Mapped[str | None] = mapped_column(String(80))
    agent_interface: Mapped[str | None] = mapped_column(String(80))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    handle_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hold_seconds: Mapped[float] = mapped_column(Float)
    park_seconds: Mapped[float] = mapped_column(Float)
    parks: Mapped[int] = mapped_column(Integer)
    transfers: Mapped[list[dict[str, Any]]] = mapped_column(Headers)
    heard_busy: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(20))
    abandon_stage: Mapped[str | None] = mapped_column(String(10))
    system_end: Mapped[str | None] = mapped_column(String(40))
    estimated: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ux_calls_server_linkedid", "server_id", "linkedid", unique=True),
        Index("ix_calls_day", "local_day"),
        Index("ix_calls_queue_day", "queue", "local_day"),
        Index("ix_calls_agent_day", "agent", "local_day"),
    )
