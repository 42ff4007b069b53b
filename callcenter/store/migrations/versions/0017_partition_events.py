"""On PostgreSQL, the raw event log partitioned by month of received_at (store/partitions).

A partitioned table's unique keys must hold its partition key, so the event's identity
(server, run, seq) is unique with received_at: a replayed event keeps its received_at
(the spool stores it), so the same event is still the same key. SQLite: unchanged.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from callcenter.store.partitions import DEFAULT, PARENT, ensure_months, months_from

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COLUMNS = ("id, server_id, run_id, seq, received_at, event, uniqueid, linkedid, action_id, "
           "headers")  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {PARENT} RENAME TO ami_events_unpartitioned")
    for old in ("ux_ami_events_run_seq", "ix_ami_events_received", "ix_ami_events_linkedid"):
        op.execute(f"ALTER INDEX {old} RENAME TO {old}_old")
    op.execute("ALTER TABLE ami_events_unpartitioned RENAME CONSTRAINT ami_events_pkey "
               "TO ami_events_unpartitioned_pkey")  # fmt: skip
    op.execute(
        f"CREATE TABLE {PARENT} ("
        "id BIGINT NOT NULL DEFAULT nextval('ami_events_id_seq'), "
        "server_id VARCHAR(40) NOT NULL, run_id VARCHAR(16) NOT NULL, seq BIGINT NOT NULL, "
        "received_at TIMESTAMP WITH TIME ZONE NOT NULL, event VARCHAR(80) NOT NULL, "
        "uniqueid VARCHAR(64), linkedid VARCHAR(64), action_id VARCHAR(64), "
        "headers JSONB NOT NULL, PRIMARY KEY (id, received_at)"
        ") PARTITION BY RANGE (received_at)"
    )
    op.execute(f"ALTER SEQUENCE ami_events_id_seq OWNED BY {PARENT}.id")
    op.execute(f"CREATE UNIQUE INDEX ux_ami_events_run_seq ON {PARENT} "
               "(server_id, run_id, seq, received_at)")  # fmt: skip
    op.execute(f"CREATE INDEX ix_ami_events_received ON {PARENT} (received_at)")
    op.execute(f"CREATE INDEX ix_ami_events_linkedid ON {PARENT} (linkedid)")
    op.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {PARENT} DEFAULT")
    # A month for each month that has events (not every month since the oldest: one
    # event stamped 1970 must not make hundreds), this one and the next two.
    held = bind.execute(
        sa.text(
            "SELECT DISTINCT EXTRACT(YEAR FROM received_at AT TIME ZONE 'UTC')::int, "
            "EXTRACT(MONTH FROM received_at AT TIME ZONE 'UTC')::int "
            "FROM ami_events_unpartitioned"
        )
    ).all()
    ensure_months(bind, [*months_from(datetime.now(UTC), 2), *((y, m) for y, m in held)])
    op.execute(f"INSERT INTO {PARENT} ({COLUMNS}) SELECT {COLUMNS} "  # noqa: S608
               "FROM ami_events_unpartitioned")  # fmt: skip
    op.execute("DROP TABLE ami_events_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {PARENT} RENAME TO ami_events_partitioned")
    for name in ("ux_ami_events_run_seq", "ix_ami_events_received", "ix_ami_events_linkedid"):
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_part")
    op.execute(
        f"CREATE TABLE {PARENT} (LIKE ami_events_partitioned INCLUDING DEFAULTS, PRIMARY KEY (id))"
    )
    op.execute(f"ALTER SEQUENCE ami_events_id_seq OWNED BY {PARENT}.id")
    op.execute(f"CREATE UNIQUE INDEX ux_ami_events_run_seq ON {PARENT} (server_id, run_id, seq)")
    op.execute(f"CREATE INDEX ix_ami_events_received ON {PARENT} (received_at)")
    op.execute(f"CREATE INDEX ix_ami_events_linkedid ON {PARENT} (linkedid)")
    op.execute(f"INSERT INTO {PARENT} SELECT * FROM ami_events_partitioned")  # noqa: S608
    op.execute("DROP TABLE ami_events_partitioned")
