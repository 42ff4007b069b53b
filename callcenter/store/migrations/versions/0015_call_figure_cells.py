"""Figure cells: the calls' counts and sums per (server, day, hour, queue), kept beside
the calls and invalidated by a stamp that a trigger bumps on every write to ``calls``
(callcenter.metrics.cells).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COUNTS = (
    "after_hours", "answered", "transferred_out", "voicemail", "callback", "failed",
    "unknown", "short_abandoned", "abandoned", "busy", "answered_within_sl", "wait_count",
    "handle_count",
)  # fmt: skip

# One upsert per (server, day) touched: the stamp only has to change, by any amount.
_BUMP = (
    "INSERT INTO call_day_stamps (server_id, local_day, generation) "
    "VALUES ({row}.server_id, {row}.local_day, 1) "
    "ON CONFLICT (server_id, local_day) "
    "DO UPDATE SET generation = call_day_stamps.generation + 1"
)


def upgrade() -> None:
    op.create_table(
        "call_day_stamps",
        sa.Column("server_id", sa.String(40), primary_key=True),
        sa.Column("local_day", sa.String(10), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "call_figure_days",
        sa.Column("server_id", sa.String(40), primary_key=True),
        sa.Column("local_day", sa.String(10), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("sl_seconds", sa.Float(), nullable=False),
    )
    op.create_table(
        "call_figure_cells",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("server_id", sa.String(40), nullable=False),
        sa.Column("local_day", sa.String(10), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("queue", sa.String(64), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column("wait_sum", sa.Float(), nullable=False),
        sa.Column("handle_sum", sa.Float(), nullable=False),
        sa.Column("max_wait_seconds", sa.Float(), nullable=True),
    )
    op.create_index("ix_call_figure_cells_day", "call_figure_cells", ["local_day", "server_id"])
    # Every day that already has calls starts stamped, so none is taken as empty.
    op.execute(
        "INSERT INTO call_day_stamps (server_id, local_day, generation) "
        "SELECT server_id, local_day, 1 FROM calls GROUP BY server_id, local_day"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION calls_stamp_day() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP <> 'INSERT' THEN {_BUMP.format(row='OLD')}; END IF; "
            f"IF TG_OP <> 'DELETE' THEN {_BUMP.format(row='NEW')}; END IF; "
            "RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER calls_stamp_day AFTER INSERT OR UPDATE OR DELETE ON calls "
            "FOR EACH ROW EXECUTE FUNCTION calls_stamp_day()"
        )
    else:
        for what, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
            body = " ".join(f"{_BUMP.format(row=r)};" for r in rows)
            op.execute(
                f"CREATE TRIGGER calls_stamp_day_{what.lower()} AFTER {what} ON calls "
                f"BEGIN {body} END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER calls_stamp_day ON calls")
        op.execute("DROP FUNCTION calls_stamp_day()")
    else:
        for what in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER calls_stamp_day_{what}")
    op.drop_table("call_figure_cells")
    op.drop_table("call_figure_days")
    op.drop_table("call_day_stamps")
