"""The webhook outbox: events waiting to be sent (or sent) to the ticket system.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
# Kept literal (not imported from callcenter.webhooks) so this revision never changes
# when the application code does.
PENDING_SQLITE = "delivered_at IS NULL AND dead = 0"
PENDING_POSTGRESQL = "delivered_at IS NULL AND dead = false"


def upgrade() -> None:
    op.create_table(
        "webhook_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("delivery_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(80), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("dead", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ux_webhook_outbox_url_delivery", "webhook_outbox", ["url", "delivery_id"], unique=True
    )
    op.create_index(
        "ix_webhook_outbox_pending",
        "webhook_outbox",
        ["url", "id"],
        sqlite_where=sa.text(PENDING_SQLITE),
        postgresql_where=sa.text(PENDING_POSTGRESQL),
    )
    op.create_index("ix_webhook_outbox_created", "webhook_outbox", ["created_at"])


def downgrade() -> None:
    op.drop_table("webhook_outbox")
