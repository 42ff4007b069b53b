"""The append-only AMI event log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ami_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(80), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("action_id", sa.String(64), nullable=True),
        sa.Column("headers", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )
    op.create_index(
        "ux_ami_events_run_seq", "ami_events", ["server_id", "run_id", "seq"], unique=True
    )
    op.create_index("ix_ami_events_received", "ami_events", ["received_at"])
    op.create_index("ix_ami_events_linkedid", "ami_events", ["linkedid"])


def downgrade() -> None:
    op.drop_table("ami_events")
