"""The queue_log as the agents' second record, through the store: read with its cursor,
mapped to agent_events once whatever is re-read, and used by the figures only where no
AMI connection was; the hand-computed day (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, func, select, update

from callcenter.agents.pbxsource import agent_names
from callcenter.agents.queuelog import QueueLogFollower, record_from_queue_log
from callcenter.agents.record import AGENT_EVENTS, activity_by_agent, rebuild_activity
from callcenter.pbxrecord.reader import QueueLogReader
from callcenter.store.db import make_engine, migrate
from callcenter.store.models import AgentEventRow, AMIEvent, CoverageRow, PbxCursor, PbxRecordRow
from tests.unit.store.test_agent_events import MEMBER, SERVER, at, covered, store_log

TZ = ZoneInfo("Asia/Tokyo")
NAMES = agent_names([("agent1", "Agent 1"), ("agent2", "Agent 2")])
DAY = (date(2026, 6, 1), date(2026, 6, 2))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'ev.db'}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")

    def clear() -> None:
        with eng.begin() as conn:
            for table in (AMIEvent, AgentEventRow, CoverageRow, PbxRecordRow, PbxCursor):
                conn.execute(delete(table))

    clear()
    yield eng
    clear()  # the session's database: the next test's figures must not see this queue_log


def line(hhmm: str, callid: str, queue: str, agent: str, event: str, *data: str) -> str:
    return "|".join([str(int(at(hhmm))), callid, queue, agent, event, *data])


def iso(hhmm: str) -> str:
    return datetime.fromtimestamp(at(hhmm), UTC).isoformat()


def day_doc(engine: Engine) -> dict[str, Any]:
    (d,) = activity_by_agent(engine, SERVER, TZ, *DAY, agent="agent1")
    return d.to_dict()


def the_ami_record(engine: Engine) -> None:
    """agent1 in support from 08:30; the daemon sees the PBX 08:00-10:00, then from 11:00
    (its resync lists agent1 in support, not paused)."""
    resync = {"ActionID": "r1"}
    store_log(
        engine,
        [
            (at("08:30"), {"Event": "QueueMemberAdded", **MEMBER, "Paused": "0"}),
            (at("11:00"), {"Event": "QueueMember", **resync, "Queue": "support",
                           "Location": "PJSIP/agent1", "Paused": "0"}),
            (at("11:00"), {"Event": "QueueStatusComplete", **resync}),
        ],
    )  # fmt: skip
    start = datetime(2026, 6, 1, tzinfo=TZ)
    rebuild_activity(engine, SERVER, start, start.replace(day=2))
    covered(engine, at("08:00"), at("10:00"))
    covered(engine, at("11:00"), at("00:00", 2))


def read(engine: Engine, path: Path, lines: list[str]) -> int:
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    QueueLogReader(engine, SERVER, path).read_available()
    return record_from_queue_log(engine, SERVER, NAMES)


def pbx_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(AGENT_EVENTS).where(AGENT_EVENTS.c.source == "pbx")
            ).scalar_one()
        )


def test_a_pause_while_the_daemon_was_away_fills_its_gap(engine: Engine, tmp_path: Path) -> None:
    the_ami_record(engine)
    before = day_doc(engine)
    assert before["unknown"] == [{"from": iso("10:00"), "to": iso("11:00")}]
    assert before["pause_by_reason"] == {}

    lines = [
        line("08:30", "MANAGER", "support", "PJSIP/agent1", "ADDMEMBER", ""),  # AMI has it
        line("10:10", "NONE", "support", "Agent 1", "PAUSE", "休憩"),
        line("10:40", "NONE", "support", "Agent 1", "UNPAUSE", ""),
        line("10:50", "cclab-1.1", "support", "Agent 1", "COMPLETEAGENT", "4", "300", "1"),
        line("12:00", "NONE", "support", "Agent 1", "PAUSE", "研修"),  # AMI saw none: unused
        "1780272000|garbage",
    ]
    assert read(engine, tmp_path / "queue_log", lines) == 5
    # Re-read and re-mapped (a lost mark): nothing doubles.
    with engine.begin() as conn:
        conn.execute(update(PbxCursor).values(reconciled_id=0))
    assert record_from_queue_log(engine, SERVER, NAMES) == 5
    assert record_from_queue_log(engine, SERVER, NAMES) == 0  # the mark moved
    assert record_from_queue_log(engine, SERVER, NAMES, from_start=True) == 5  # a rebuild
    assert record_from_queue_log(engine, SERVER, NAMES) == 0  # ...left the mark alone
    assert pbx_rows(engine) == 5

    doc = day_doc(engine)
    assert doc["complete"] is True
    assert doc["unknown"] == []
    assert doc["pause_by_reason"] == {"休憩": 1800}
    paused = [(i["from"], i["to"], i["reason"]) for i in doc["intervals"] if i["kind"] == "paused"]
    assert paused == [(iso("10:10"), iso("10:40"), "休憩")]
    assert (doc["talk_seconds"], doc["calls"]) == (300, 1)
    # Logged in from 08:30 to the day's end: the gap is no longer a break in it.
    assert doc["login_seconds"] == 15.5 * 3600


def test_a_restart_in_the_gap_leaves_it_unknown_after_the_last_line(
    engine: Engine, tmp_path: Path
) -> None:
    the_ami_record(engine)
    read(
        engine,
        tmp_path / "queue_log",
        [
            line("08:30", "MANAGER", "support", "PJSIP/agent1", "ADDMEMBER", ""),
            line("10:10", "NONE", "support", "Agent 1", "PAUSE", "休憩"),
            line("10:20", "NONE", "NONE", "NONE", "QUEUESTART", ""),
            line("10:30", "NONE", "support", "Agent 1", "PAUSE", "朝礼"),
        ],
    )
    doc = day_doc(engine)
    (gap,) = doc["unknown"]
    assert gap["from"].startswith(iso("10:10")[:19])
    assert gap["from"] > iso("10:10")
    # Seen again by its 10:30 line (as an AMI event in a gap would be).
    assert gap["to"] == iso("10:30")
    # The 10:10 pause is known for its own line's moment (decision 0016's EDGE), then not.
    assert doc["pause_by_reason"] == {"休憩": 0.001, "朝礼": 1800}


def test_lines_truncated_away_unread_leave_their_stretch_unknown(
    engine: Engine, tmp_path: Path
) -> None:
    the_ami_record(engine)
    path = tmp_path / "queue_log"
    read(
        engine,
        path,
        [
            line("08:30", "MANAGER", "support", "PJSIP/agent1", "ADDMEMBER", ""),
            line("10:10", "NONE", "support", "Agent 1", "PAUSE", "休憩"),
        ],
    )
    # copytruncate: what was written after the last read is gone, the file starts over.
    read(engine, path, [line("10:40", "NONE", "support", "Agent 1", "UNPAUSE", "")])
    with engine.connect() as conn:
        marks = conn.execute(
            select(PbxRecordRow.eventtype, PbxRecordRow.note).where(
                PbxRecordRow.eventtype == "LOST"
            )
        ).all()
    assert [(e, (n or "").split(":")[0]) for e, n in marks] == [
        ("LOST", "truncated before its end was read")
    ]
    doc = day_doc(engine)
    (gap,) = doc["unknown"]
    assert gap["from"] > iso("10:10")
    assert gap["to"] == iso("10:40")  # seen again by the new file's line


async def test_the_follower_reads_and_records_each_pass(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(line("10:10", "NONE", "support", "Agent 1", "PAUSE", "休憩") + "\n")
    follower = QueueLogFollower(engine, QueueLogReader(engine, SERVER, path), NAMES, 0.1)
    await follower.pass_once()
    assert (follower.healthy, follower.recorded, pbx_rows(engine)) == (True, 1, 1)
    with path.open("a") as f:
        f.write(line("10:40", "NONE", "support", "Agent 1", "UNPAUSE", "") + "\n")
    await follower.pass_once()
    assert (follower.recorded, pbx_rows(engine)) == (2, 2)
    path.unlink()  # gone (rotated away, unmounted): nothing read, nothing lost
    await follower.pass_once()
    assert (follower.healthy, pbx_rows(engine)) == (True, 2)
