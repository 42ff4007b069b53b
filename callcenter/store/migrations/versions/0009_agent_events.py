"""Agent activity: log-ins, log-outs, pauses with their reason, calls' ends (agent_events).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agent_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("agent", sa.String(80), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index(
        "ux_agent_events_key",
        "agent_events",
        ["server_id", "source", "agent", "queue", "kind", "at"],
        unique=True,
    )
    op.create_index("ix_agent_events_time", "agent_events", ["server_id", "at"])


def downgrade() -> None:
    op.drop_table("agent_events")
