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

BUCKETS = (*(f"abandoned_w{i}" for i in range(7)), "abandoned_wnone")

# One upsert per (server, day) touched: the stamp only has to change, by any amount.
_BUMP = (
    "INSERT INTO call_day_stamps (server_id, local_day, generation) "
    "VALUES ({row}.server_id, {row}.local_day, 1) "
    "ON CONFLICT (server_id, local_day) "
    "DO UPDATE SET generation = call_day_stamps.generation + 1"
)


_PG_TRIGGERS = {
    "INSERT": ("new_rows",),
    "UPDATE": ("old_rows", "new_rows"),
    "DELETE": ("old_rows",),
}


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
        sa.Column("definitions", sa.String(120), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column("wait_sum", sa.Float(), nullable=False),
        sa.Column("handle_sum", sa.Float(), nullable=False),
        sa.Column("max_wait_seconds", sa.Float(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in BUCKETS),
    )
    op.create_index("ix_call_figure_cells_day", "call_figure_cells", ["local_day", "server_id"])
    # Every day that already has calls starts stamped, so none is taken as empty.
    op.execute(
        "INSERT INTO call_day_stamps (server_id, local_day, generation) "
        "SELECT server_id, local_day, 1 FROM calls GROUP BY server_id, local_day"
    )
    if op.get_bind().dialect.name == "postgresql":
        # Statement-level, with transition tables: one upsert per (server, day) a
        # statement touched, not one per row (a bulk rewrite of a month would otherwise
        # update the same stamp row hundreds of thousands of times in one transaction).
        # One trigger per event: a trigger with transition tables has only one.
        for what, tables in _PG_TRIGGERS.items():
            # Constants of this file only.
            union = " UNION ".join(f"SELECT server_id, local_day FROM {t}" for t in tables)  # noqa: S608
            op.execute(
                f"CREATE FUNCTION calls_stamp_{what.lower()}() RETURNS trigger "  # noqa: S608
                "LANGUAGE plpgsql AS $$ BEGIN "
                "INSERT INTO call_day_stamps (server_id, local_day, generation) "
                f"SELECT DISTINCT server_id, local_day, 1 FROM ({union}) AS touched "
                "ON CONFLICT (server_id, local_day) "
                "DO UPDATE SET generation = call_day_stamps.generation + 1; "
                "RETURN NULL; END $$"
            )
            refs = " ".join(f"{'NEW' if t == 'new_rows' else 'OLD'} TABLE AS {t}" for t in tables)
            op.execute(
                f"CREATE TRIGGER calls_stamp_{what.lower()} AFTER {what} ON calls "
                f"REFERENCING {refs} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION calls_stamp_{what.lower()}()"
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
        for what in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER calls_stamp_{what.lower()} ON calls")
            op.execute(f"DROP FUNCTION calls_stamp_{what.lower()}()")
    else:
        for what in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER calls_stamp_day_{what}")
    op.drop_table("call_figure_cells")
    op.drop_table("call_figure_days")
    op.drop_table("call_day_stamps")
