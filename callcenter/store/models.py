"""Database tables (SQLAlchemy 2.x). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String
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
