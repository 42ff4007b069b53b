"""The agent activity record: written once whatever is replayed, rebuilt from the event
log, read into days (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, func, insert, select

from callcenter.agents.activity import ActivityMapper
from callcenter.agents.record import (
    AGENT_EVENTS,
    activity_by_agent,
    rebuild_activity,
    write_events,
)
from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import event_row, write_rows
from callcenter.store.models import AgentEventRow, AMIEvent, Base, CoverageRow

TZ = ZoneInfo("Asia/Tokyo")
SERVER = "pbx1"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'ev.db'}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")
    with eng.begin() as conn:
        for table in (AMIEvent, AgentEventRow, CoverageRow):
            conn.execute(delete(table))
    yield eng


def at(hhmm: str, day: int = 1) -> float:
    h, m = hhmm.split(":")
    return datetime(2026, 6, day, int(h), int(m), tzinfo=TZ).timestamp()


MEMBER = {"Queue": "support", "Interface": "PJSIP/agent1", "MemberName": "Agent 1"}
# The hand-computed day as the PBX tells it: logged in 08:30-12:00, paused 10:00-10:15
# for 'break', talking 40 minutes (two calls).
DAY: list[tuple[float, dict[str, str]]] = [
    (at("08:30"), {"Event": "QueueMemberAdded", **MEMBER, "Paused": "0"}),
    (at("09:25"), {"Event": "AgentComplete", **MEMBER, "TalkTime": "1500", "HoldTime": "4"}),
    (at("10:00"), {"Event": "QueueMemberPause", **MEMBER, "Paused": "1", "PausedReason": "break"}),
    (at("10:15"), {"Event": "QueueMemberPause", **MEMBER, "Paused": "0", "PausedReason": ""}),
    (at("11:15"), {"Event": "AgentComplete", **MEMBER, "TalkTime": "900", "HoldTime": "2"}),
    (at("12:00"), {"Event": "QueueMemberRemoved", **MEMBER}),
]


def store_log(engine: Engine, events: list[tuple[float, dict[str, str]]]) -> None:
    rows = [event_row(h, r, SERVER, "run1", i) for i, (r, h) in enumerate(events, 1)]
    write_rows(engine, rows)


def covered(engine: Engine, start: float, end: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(CoverageRow).values(
                server_id=SERVER,
                source="ami",
                run_id="run1",
                started_at=datetime.fromtimestamp(start, UTC),
                ended_at=datetime.fromtimestamp(end, UTC),
            )
        )


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AGENT_EVENTS)).scalar_one())


def test_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "agent_events" in repr(d)] == []


def test_live_rows_and_a_rebuild_are_one_record(engine: Engine) -> None:
    """The daemon's rows (from the events as received) and a rebuild from the stored log
    have the same keys: a rebuild, or two, stores nothing twice."""
    store_log(engine, DAY)
    mapper = ActivityMapper()
    live = [e for r, h in DAY for e in mapper.apply(h, r)]
    write_events(engine, SERVER, live)
    assert count(engine) == len(DAY)
    start = datetime(2026, 6, 1, tzinfo=TZ)
    assert rebuild_activity(engine, SERVER, start, start + timedelta(days=1)) == len(DAY)
    assert rebuild_activity(engine, SERVER, start, start + timedelta(days=1)) == len(DAY)
    write_events(engine, SERVER, live)  # a retried batch
    assert count(engine) == len(DAY)


def test_the_hand_computed_day_from_the_database(engine: Engine) -> None:
    store_log(engine, DAY)
    start = datetime(2026, 6, 1, tzinfo=TZ)
    rebuild_activity(engine, SERVER, start, start + timedelta(days=1))
    covered(engine, at("07:00"), at("23:00"))
    (d,) = activity_by_agent(engine, SERVER, TZ, date(2026, 6, 1), date(2026, 6, 2))
    doc: dict[str, Any] = d.to_dict()
    assert doc["agent"] == "agent1"
    assert doc["login_seconds"] == 12600
    assert doc["pause_by_reason"] == {"break": 900}
    assert doc["talk_seconds"] == 2400
    assert doc["occupancy"] == 2400 / 11700
    assert doc["complete"] is True
    # With a wrap-up of 30 s per call.
    (w,) = activity_by_agent(
        engine, SERVER, TZ, date(2026, 6, 1), date(2026, 6, 2), wrapup={"support": 30}
    )
    assert w.wrapup_seconds == 60
    assert w.occupancy == 2460 / 11700


def test_the_state_comes_from_before_the_period_and_gaps_are_named(engine: Engine) -> None:
    """Logged in on the 1st, the daemon stopped from 20:00 to 08:00 the next day: the
    2nd starts with nothing known until the resync's list sees the agent again."""
    store_log(
        engine,
        [
            (at("09:00"), {"Event": "QueueMemberAdded", **MEMBER, "Paused": "0"}),
            (at("08:00", 2), {"Event": "QueueMember", "ActionID": "r1", "Queue": "support",
                              "Location": "PJSIP/agent1", "Paused": "1", "PausedReason": "朝礼"}),
            (at("08:00", 2), {"Event": "QueueStatusComplete", "ActionID": "r1"}),
            (at("08:20", 2), {"Event": "QueueMemberPause", **MEMBER, "Paused": "0"}),
            (at("09:00", 2), {"Event": "QueueMemberRemoved", **MEMBER}),
        ],
    )  # fmt: skip
    start = datetime(2026, 6, 1, tzinfo=TZ)
    rebuild_activity(engine, SERVER, start, start + timedelta(days=2))
    covered(engine, at("08:30"), at("20:00"))
    covered(engine, at("08:00", 2), at("23:00", 2))
    (d2,) = activity_by_agent(engine, SERVER, TZ, date(2026, 6, 2), date(2026, 6, 3))
    doc = d2.to_dict()
    assert doc["login_seconds"] == 3600
    assert doc["pause_by_reason"] == {"朝礼": 1200}
    midnight = datetime(2026, 6, 2, tzinfo=TZ).astimezone(UTC)
    assert doc["unknown"] == [
        {
            "from": midnight.isoformat(),
            "to": datetime.fromtimestamp(at("08:00", 2), UTC).isoformat(),
        }
    ]
    (d1,) = activity_by_agent(engine, SERVER, TZ, date(2026, 6, 1), date(2026, 6, 2))
    assert d1.login_seconds == 11 * 3600  # 09:00 to the gap at 20:00
    assert [(i.start, i.end) for i in d1.unknown] == [
        (datetime.fromtimestamp(at("20:00"), UTC), midnight)
    ]
