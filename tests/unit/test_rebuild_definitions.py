"""`calls rebuild`: the stored events re-classified with the definitions in force;
each call keeps the definitions that classified it, and a period that mixes them says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update

from callcenter.config import Config
from callcenter.metrics.definitions import definitions_doc
from callcenter.metrics.query import query_definitions
from callcenter.metrics.settings import MetricsConfig
from callcenter.rebuild import open_call_events, rebuild_calls
from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import event_row, write_rows
from callcenter.store.models import Call
from callcenter.store.settings import DatabaseConfig
from callcenter.telephony.tracker import CallTracker

TZ = ZoneInfo("Asia/Tokyo")
DAY = date(2026, 11, 2)


def cfg(tmp_path: Path, short: float) -> Config:
    return Config(
        database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'cc.db'}"),
        metrics=MetricsConfig(short_abandon_seconds=short),
        base_dir=tmp_path,
    )


def call_events(linkedid: str, start: float, hangup_after: float) -> list[dict[str, str]]:
    """A caller who waits in the queue, then hangs up ``hangup_after`` s after arriving."""

    def ts(d: float) -> str:
        return f"{start + d:.6f}"

    return [
        {"Event": "Newchannel", "Uniqueid": linkedid, "Linkedid": linkedid,
         "Context": "from-trunk", "Exten": "1000", "CallerIDNum": "0312345678",
         "CallerIDName": "山田", "Timestamp": ts(0)},
        {"Event": "UserEvent", "UserEvent": "CallCenter", "Stage": "entered",
         "Queue": "support", "Linkedid": linkedid, "Uniqueid": linkedid, "Timestamp": ts(0.1)},
        {"Event": "QueueCallerJoin", "Queue": "support", "Linkedid": linkedid,
         "Uniqueid": linkedid, "Timestamp": ts(0.5)},
        {"Event": "Hangup", "Uniqueid": linkedid, "Linkedid": linkedid,
         "Timestamp": ts(hangup_after)},
    ]  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'cc.db'}")
    migrate(eng)
    start = datetime(2026, 11, 2, 10, 0, tzinfo=TZ).timestamp()
    rows = []
    seq = 0
    for i, after in enumerate((3.0, 7.0, 12.0)):
        for ev in call_events(f"c{i}", start + 60 * i, after):
            seq += 1
            rows.append(event_row(ev, float(ev["Timestamp"]), "lab", "run1", seq))
    write_rows(eng, rows)
    yield eng
    eng.dispose()


def outcomes(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        return {
            r[0]: (r[1], r[2])
            for r in conn.execute(select(Call.linkedid, Call.outcome, Call.definitions))
        }


def test_rebuild_is_idempotent_and_a_new_threshold_moves_calls(
    engine: Engine, tmp_path: Path
) -> None:
    five = cfg(tmp_path, 5.0)
    first = rebuild_calls(engine, five, DAY, date(2026, 11, 3))
    assert first.from_events == 3
    assert dict(first.after) == {"short_abandoned": 1, "abandoned": 2}
    assert {m.linkedid for m in first.moved} == {"c0", "c1", "c2"}  # all new
    got = outcomes(engine)
    assert got["c1"] == ("abandoned", "short_abandon_seconds=5;service_level_seconds=20")
    again = rebuild_calls(engine, five, DAY, date(2026, 11, 3))
    assert again.moved == []
    assert again.before == again.after

    ten = cfg(tmp_path, 10.0)
    moved = rebuild_calls(engine, ten, DAY, date(2026, 11, 3))
    assert [(m.linkedid, m.before, m.after) for m in moved.moved] == [
        ("c1", "abandoned", "short_abandoned")
    ]
    assert dict(moved.after) == {"short_abandoned": 2, "abandoned": 1}
    assert outcomes(engine)["c1"][1] == "short_abandon_seconds=10;service_level_seconds=20"
    doc = definitions_doc(
        ten.metrics, query_definitions(engine, MetricsConfig(), "2026-11-02", "2026-11-03")
    )
    assert not doc["mixed"]
    assert doc["classified_with"] == [
        {
            "definitions": {"short_abandon_seconds": 10.0, "service_level_seconds": 20.0},
            "calls": 3,
            "current": True,
        }
    ]


def test_a_period_classified_under_two_definitions_says_so(engine: Engine, tmp_path: Path) -> None:
    rebuild_calls(engine, cfg(tmp_path, 5.0), DAY, date(2026, 11, 3))
    stored = query_definitions(engine, MetricsConfig(), "2026-11-02", "2026-11-03")
    doc = definitions_doc(MetricsConfig(short_abandon_seconds=8.0), stored)
    assert doc["mixed"] is False  # one version stored, but not the one in force:
    assert doc["calls_classified_otherwise"] == 3
    assert "calls rebuild" in doc["note"]
    with engine.begin() as conn:
        conn.execute(
            update(Call)
            .where(Call.linkedid == "c0")
            .values(definitions="short_abandon_seconds=8;service_level_seconds=20")
        )
    doc = definitions_doc(
        MetricsConfig(short_abandon_seconds=8.0),
        query_definitions(engine, MetricsConfig(), "2026-11-02", "2026-11-03"),
    )
    assert doc["mixed"] is True
    assert doc["calls_classified_otherwise"] == 2


def test_a_restarted_daemon_gets_back_the_calls_left_open(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'open.db'}")
    migrate(eng)
    start = datetime.now(TZ).timestamp() - 120
    open_call = call_events("open", start, 999)[:-1]  # no Hangup stored: still up
    open_call.append(
        {"Event": "AgentConnect", "Linkedid": "open", "Uniqueid": "open", "Queue": "support",
         "MemberName": "Agent 1", "Interface": "PJSIP/agent1", "Timestamp": f"{start + 9:.6f}"}
    )  # fmt: skip
    ended = call_events("ended", start, 30)
    known = call_events("known", start, 999)[:-1]
    rows = [
        event_row(ev, float(ev["Timestamp"]), "lab", "run1", i)
        for i, ev in enumerate(open_call + ended + known)
    ]
    write_rows(eng, rows)
    day = datetime.fromtimestamp(start, TZ).date()
    rebuild = rebuild_calls(eng, cfg(tmp_path, 5.0), day, day + timedelta(days=1))
    assert rebuild.from_events == 1  # only "ended" is finished
    with eng.begin() as conn:  # "known" was completed from the PBX record meanwhile
        conn.execute(update(Call).where(Call.linkedid == "ended").values(linkedid="known"))
    since = datetime.fromtimestamp(start - 60, TZ)
    events = open_call_events(eng, "lab", since)
    assert {e["Linkedid"] for e, _ in events} == {"open"}
    tracker = CallTracker("lab")
    for headers, received in events:
        tracker.feed(headers, received)
    (call,) = tracker.calls.values()
    assert call.linkedid == "open"
    assert call.answered_at == pytest.approx(start + 9)
    assert call.queued_at == pytest.approx(start + 0.5)
    assert call.estimated is False
    eng.dispose()
