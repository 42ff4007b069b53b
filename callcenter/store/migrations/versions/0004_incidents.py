"""Incidents, their history, and satisfaction surveys.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSONV = sa.JSON().with_variant(JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.String(40), nullable=True),
        sa.Column("call_linkedid", sa.String(64), nullable=True),
        sa.Column("caller_number", sa.String(64), nullable=True),
        sa.Column("caller_name", sa.String(128), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("ivr_path", JSONV, nullable=False),
        sa.Column("agent", sa.String(80), nullable=True),
        sa.Column("agent_id", sa.String(40), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("category", sa.String(80), nullable=True),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("flags", JSONV, nullable=False),
        sa.Column("escalated_at", TS, nullable=True),
        sa.Column("escalated_by", sa.String(80), nullable=True),
        sa.Column("escalated_to", sa.String(80), nullable=True),
        sa.Column("escalation_answered_at", TS, nullable=True),
        sa.Column("first_progress_at", TS, nullable=True),
        sa.Column("progress_reports", JSONV, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(80), nullable=True),
        sa.Column("resolution", sa.String(12), nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("related_incident_id", sa.BigInteger(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=True),
    )
    op.create_index("ux_incidents_call", "incidents", ["server_id", "call_linkedid"], unique=True)
    op.create_index("ix_incidents_received", "incidents", ["received_at"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_caller", "incidents", ["caller_number", "received_at"])
    op.create_index("ix_incidents_agent", "incidents", ["agent_id", "status"])
    op.create_table(
        "incident_history",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changes", JSONV, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_index("ix_incident_history_incident", "incident_history", ["incident_id", "id"])
    op.create_table(
        "survey_responses",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("respondent", sa.String(128), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("answers", JSONV, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index(
        "ux_survey_once", "survey_responses", ["source", "respondent", "at"], unique=True
    )
    op.create_index("ix_survey_at", "survey_responses", ["at"])


def downgrade() -> None:
    op.drop_table("survey_responses")
    op.drop_table("incident_history")
    op.drop_table("incidents")
