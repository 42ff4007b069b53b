"""Quarantine: what a writer could not store as it came, kept byte for byte.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(120), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("error", sa.String(300), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_quarantine_at", "quarantine", ["at"])


def downgrade() -> None:
    op.drop_table("quarantine")
