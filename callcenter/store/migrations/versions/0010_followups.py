"""The follow-up list: callers not yet reached, the calls that changed it, the call-backs.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("caller_num", sa.String(64), nullable=False),
        sa.Column("caller_name", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("first_linkedid", sa.String(64), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("last_call_at", TS, nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_result", sa.String(16), nullable=True),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(16), nullable=True),
        sa.Column("closed_ref", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ux_followups_open_number",
        "followups",
        ["caller_num"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index("ix_followups_opened", "followups", ["opened_at"])
    op.create_index("ix_followups_status", "followups", ["status", "last_call_at"])
    op.create_table(
        "followup_calls",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("followup_id", sa.BigInteger(), nullable=False),
        sa.Column("effect", sa.String(10), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index(
        "ux_followup_calls_call", "followup_calls", ["server_id", "linkedid"], unique=True
    )
    op.create_index("ix_followup_calls_followup", "followup_calls", ["followup_id"])
    op.create_table(
        "followup_attempts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("followup_id", sa.BigInteger(), nullable=False),
        sa.Column("agent_id", sa.String(40), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("result_at", TS, nullable=True),
        sa.Column("detail", sa.String(40), nullable=False),
        sa.Column("set_by", sa.String(40), nullable=False),
    )
    op.create_index("ix_followup_attempts_followup", "followup_attempts", ["followup_id"])


def downgrade() -> None:
    op.drop_table("followup_attempts")
    op.drop_table("followup_calls")
    op.drop_table("followups")
