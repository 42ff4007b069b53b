"""The monthly reports made, kept and sent (report_runs, report_files).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_runs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("made_at", TS, nullable=False),
        sa.Column("made_by", sa.String(40), nullable=False),
        sa.Column("mailed_at", TS, nullable=True),
        sa.Column("mail_error", sa.String(500), nullable=True),
        sa.Column("announced_at", TS, nullable=True),
    )
    op.create_index("ux_report_runs_kind_period", "report_runs", ["kind", "period"], unique=True)
    op.create_table(
        "report_files",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("lang", sa.String(5), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("made_at", TS, nullable=False),
    )
    op.create_index(
        "ux_report_files", "report_files", ["kind", "period", "format", "lang"], unique=True
    )


def downgrade() -> None:
    op.drop_table("report_files")
    op.drop_table("report_runs")
