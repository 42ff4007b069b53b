"""Finished calls, one row each.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSONV = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("arrived_at", TS, nullable=False),
        sa.Column("local_day", sa.String(10), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("caller_num", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("dnis", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("ivr_path", JSONV, nullable=False),
        sa.Column("busy_at", TS, nullable=True),
        sa.Column("queued_at", TS, nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("agent", sa.String(80), nullable=True),
        sa.Column("agent_interface", sa.String(80), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("handle_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("hold_seconds", sa.Float(), nullable=False),
        sa.Column("park_seconds", sa.Float(), nullable=False),
        sa.Column("parks", sa.Integer(), nullable=False),
        sa.Column("transfers", JSONV, nullable=False),
        sa.Column("heard_busy", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("abandon_stage", sa.String(10), nullable=True),
        sa.Column("system_end", sa.String(40), nullable=True),
        sa.Column("estimated", sa.Boolean(), nullable=False),
    )
    op.create_index("ux_calls_server_linkedid", "calls", ["server_id", "linkedid"], unique=True)
    op.create_index("ix_calls_day", "calls", ["local_day"])
    op.create_index("ix_calls_queue_day", "calls", ["queue", "local_day"])
    op.create_index("ix_calls_agent_day", "calls", ["agent", "local_day"])


def downgrade() -> None:
    op.drop_table("calls")
