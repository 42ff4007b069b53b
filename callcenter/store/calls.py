"""Writing finished call records."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, Insert, Table, and_, insert
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.store.models import Call
from callcenter.telephony.calls import CallRecord

TABLE: Table = Call.__table__  # type: ignore[assignment]
_UPDATABLE = [c.name for c in TABLE.columns if c.name not in ("id", "server_id", "linkedid")]


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def call_row(call: CallRecord, tz: ZoneInfo, source: str = "ami") -> dict[str, Any]:
    if call.outcome is None or call.ended_at is None:
        raise ValueError(f"call {call.linkedid} is not finished")
    local = datetime.fromtimestamp(call.arrived_at, tz)
    return {
        "server_id": call.server_id,
        "linkedid": call.linkedid,
        "arrived_at": _ts(call.arrived_at),
        "local_day": local.strftime("%Y-%m-%d"),
        "local_hour": local.hour,
        "caller_num": call.caller_num[:64],
        "caller_name": call.caller_name[:128],
        "dnis": call.dnis[:64],
        "queue": call.queue,
        "ivr_path": list(call.ivr_path),
        "busy_at": _ts(call.busy_at),
        "queued_at": _ts(call.queued_at),
        "answered_at": _ts(call.answered_at),
        "ended_at": _ts(call.ended_at),
        "agent": call.agent,
        "agent_interface": call.agent_interface,
        "wait_seconds": call.wait_seconds,
        "handle_seconds": call.handle_seconds,
        "talk_seconds": call.talk_seconds,
        "hold_seconds": call.hold_seconds,
        "park_seconds": call.park_seconds,
        "parks": call.parks,
        "transfers": [asdict(t) for t in call.transfers],
        "heard_busy": call.heard_busy,
        "outcome": call.outcome.value,
        "abandon_stage": call.abandon_stage.value if call.abandon_stage else None,
        "system_end": call.system_end,
        "estimated": call.estimated,
        "source": source,
        "definitions": call.definitions or None,
    }


def _replaces(new: Any) -> ColumnElement[bool]:
    old = TABLE.c
    real_over_estimate = old.estimated | ~new.estimated
    live_kept = (new.source == "ami") | (old.source == "pbx") | old.estimated
    return and_(real_over_estimate, live_kept | (old.outcome == "unknown"))


def upsert_statement(engine: Engine) -> Insert:
    """INSERT, replacing the row of the same (server, linkedid): rebuilding is idempotent.

    An estimate never replaces a record with real times: a call the PBX record completed
    after a gap keeps them when the live tracker later writes its own estimate of it. And
    the PBX record never replaces a call seen live (AMI also has its hold times), unless
    the live one was an estimate or ended unseen (``unknown``).
    """
    if engine.dialect.name == "postgresql":
        pg = postgresql.insert(TABLE)
        return pg.on_conflict_do_update(
            index_elements=["server_id", "linkedid"],
            set_={name: pg.excluded[name] for name in _UPDATABLE},
            where=_replaces(pg.excluded),
        )
    if engine.dialect.name == "sqlite":
        lite = sqlite.insert(TABLE)
        return lite.on_conflict_do_update(
            index_elements=["server_id", "linkedid"],
            set_={name: lite.excluded[name] for name in _UPDATABLE},
            where=_replaces(lite.excluded),
        )
    return insert(TABLE)


def write_calls(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(upsert_statement(engine), rows)
