"""Each call keeps the definitions that classified it; the daemon's AMI coverage.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("definitions", sa.String(120), nullable=True))
    op.create_table(
        "coverage",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("run_id", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
    )
    op.create_index("ix_coverage_server_time", "coverage", ["server_id", "started_at"])


def downgrade() -> None:
    op.drop_table("coverage")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("definitions")
