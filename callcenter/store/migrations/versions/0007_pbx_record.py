"""Asterisk's own record (CEL) beside the AMI log, its read cursor, and each call's source.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pbx_record",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("line_hash", sa.String(40), nullable=False),
        sa.Column("event_time", TS, nullable=False),
        sa.Column("read_at", TS, nullable=False),
        sa.Column("eventtype", sa.String(40), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
    )
    op.create_index("ux_pbx_record_line", "pbx_record", ["server_id", "line_hash"], unique=True)
    op.create_index("ix_pbx_record_linkedid", "pbx_record", ["server_id", "linkedid"])
    op.create_index("ix_pbx_record_time", "pbx_record", ["server_id", "event_time"])
    op.create_index("ix_pbx_record_type", "pbx_record", ["server_id", "eventtype", "id"])
    op.create_table(
        "pbx_cursor",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("reconciled_id", sa.BigInteger(), nullable=False),
        sa.Column("read_until", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ux_pbx_cursor", "pbx_cursor", ["server_id", "source"], unique=True)
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("source", sa.String(8), nullable=False, server_default="ami"))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("source")
    op.drop_table("pbx_cursor")
    op.drop_table("pbx_record")
