"""Leases (one holder at a time for a scheduled job, whatever the number of daemons) and
the pages' login sessions (by the hash of their id), shared by every daemon.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_table(
        "page_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("token_id", ID, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_page_sessions_token", "page_sessions", ["token_id", "seen_at"])
    op.create_index("ix_page_sessions_role", "page_sessions", ["role", "expires_at"])
    op.create_index("ix_page_sessions_expires", "page_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("page_sessions")
    op.drop_table("leases")
