"""The CEL file into the store (durable cursor, whole lines, rotation) and the calls
table completed from it, on a real SQLite file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, func, select

from callcenter.pbxrecord.follower import PbxRecordFollower
from callcenter.pbxrecord.reader import CelFileReader, load_cursor
from callcenter.pbxrecord.reconcile import (
    Classifier,
    PassResult,
    reconcile_day,
    reconcile_pending,
)
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.store.calls import write_calls
from callcenter.store.db import make_engine, migrate
from callcenter.store.models import Call, PbxCursor, PbxRecordRow
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord, Outcome

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "cel" / "two_calls.csv"
TZ = ZoneInfo("Asia/Tokyo")
LATER = datetime(2030, 1, 1, tzinfo=UTC)  # every fixture call has settled by then
ANSWERED_ID = "cclab-1796370105.0"
IVR_ID = "cclab-1796370107.19"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'cc.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def classifier() -> Classifier:
    return Classifier("lab", TZ, 5.0, {"agent1": "Agent 1"})


def records(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(PbxRecordRow)).scalar_one())


def calls(engine: Engine) -> dict[str, tuple[str, bool, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Call.linkedid, Call.outcome, Call.estimated, Call.source, Call.agent)
        ).all()
    return {r[0]: (r[1], bool(r[2]), r[3], r[4]) for r in rows}


def test_reads_whole_lines_only_and_resumes_from_its_cursor(engine: Engine, tmp_path: Path) -> None:
    data = FIXTURE.read_bytes()
    cut = data.index(b"\n", 1000) + 20  # a line Asterisk is half-way through
    path = tmp_path / "callcenter.csv"
    path.write_bytes(data[:cut])
    reader = CelFileReader(engine, "lab", path)
    first = reader.read_available()
    assert first.bad == 0
    assert first.bytes == data.rindex(b"\n", 0, cut) + 1
    with path.open("ab") as f:
        f.write(data[cut:])
    second = reader.read_available()
    assert first.lines + second.lines == 23
    assert records(engine) == 23
    # A new reader (a restarted daemon) finds nothing new.
    assert CelFileReader(engine, "lab", path).read_available().lines == 0
    with engine.connect() as conn:
        cur = load_cursor(conn, "lab")
    assert cur is not None
    assert cur.offset == len(data)
    assert cur.inode == os.stat(path).st_ino
    assert cur.read_until == datetime.fromtimestamp(1796370107.910109, UTC)


def test_a_lost_cursor_or_a_truncated_file_doubles_nothing(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "callcenter.csv"
    path.write_bytes(FIXTURE.read_bytes())
    CelFileReader(engine, "lab", path).read_available()
    with engine.begin() as conn:
        conn.execute(delete(PbxCursor))
    again = CelFileReader(engine, "lab", path).read_available()
    assert again.lines == 23
    assert records(engine) == 23
    path.write_bytes(FIXTURE.read_bytes()[:500])  # truncated in place: same inode
    CelFileReader(engine, "lab", path).read_available()
    assert records(engine) == 23


def test_a_rotated_file_is_finished_before_the_new_one(engine: Engine, tmp_path: Path) -> None:
    data = FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "callcenter.csv"
    path.write_text("".join(data[:5]), encoding="utf-8")
    reader = CelFileReader(engine, "lab", path)
    reader.read_available()
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(data[5:12]))  # written just before the rotation
    path.rename(tmp_path / "callcenter.csv.1")
    path.write_text("".join(data[12:]), encoding="utf-8")
    reader.read_available()
    assert records(engine) == 23


def test_a_garbled_line_is_kept_flagged_and_the_rest_read(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "callcenter.csv"
    text = FIXTURE.read_bytes()
    path.write_bytes(b'cc1,"CHAN_START","\xff\xfe\x00"\n' + text)
    res = CelFileReader(engine, "lab", path).read_available()
    assert (res.lines, res.bad) == (24, 1)
    with engine.connect() as conn:
        kept = conn.execute(
            select(PbxRecordRow.line, PbxRecordRow.note).where(PbxRecordRow.eventtype == "UNPARSED")
        ).one()
    assert "CHAN_START" in kept.line
    assert "\ufffd" in kept.line  # the NUL and the bytes that are not UTF-8
    assert "columns" in (kept.note or "")


def test_missing_calls_are_completed_once_with_real_times(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "callcenter.csv"
    path.write_bytes(FIXTURE.read_bytes())
    CelFileReader(engine, "lab", path).read_available()
    # Not settled yet (read just now, whatever the PBX's clock said): nothing is decided
    # while the live path may still write it.
    early = datetime.now(UTC) - timedelta(seconds=5)
    assert reconcile_pending(engine, classifier(), early).written == []
    res = reconcile_pending(engine, classifier(), LATER)
    assert res.checked == 2
    assert res.added == {ANSWERED_ID, IVR_ID}
    got = calls(engine)
    assert got[ANSWERED_ID] == ("answered", False, "pbx", "Agent 1")
    assert got[IVR_ID] == ("short_abandoned", False, "pbx", None)
    # The pass is remembered: a second one checks nothing.
    assert reconcile_pending(engine, classifier(), LATER).checked == 0


def _stored(engine: Engine, linkedid: str, outcome: Outcome, *, estimated: bool) -> None:
    call = CallRecord("lab", linkedid, arrived_at=1796370100.0, ended_at=1796370109.0)
    call.outcome, call.estimated = outcome, estimated
    write_calls(engine, [call_row(call, TZ)])


def test_an_estimate_is_replaced_and_a_live_record_kept(engine: Engine, tmp_path: Path) -> None:
    _stored(engine, ANSWERED_ID, Outcome.UNKNOWN, estimated=True)
    _stored(engine, IVR_ID, Outcome.ABANDONED, estimated=False)
    path = tmp_path / "callcenter.csv"
    path.write_bytes(FIXTURE.read_bytes())
    CelFileReader(engine, "lab", path).read_available()
    res = reconcile_pending(engine, classifier(), LATER)
    assert res.added == set()
    assert res.replaced == 1
    got = calls(engine)
    assert got[ANSWERED_ID] == ("answered", False, "pbx", "Agent 1")
    assert got[IVR_ID] == ("abandoned", False, "ami", None)  # seen live: kept
    # The live tracker's late estimate of the same call never overwrites real times.
    _stored(engine, ANSWERED_ID, Outcome.UNKNOWN, estimated=True)
    assert calls(engine)[ANSWERED_ID][0] == "answered"


def test_reconcile_day_reports_each_difference(engine: Engine, tmp_path: Path) -> None:
    _stored(engine, IVR_ID, Outcome.ABANDONED, estimated=False)
    _stored(engine, "cclab-only-live", Outcome.ANSWERED, estimated=False)
    path = tmp_path / "callcenter.csv"
    path.write_bytes(FIXTURE.read_bytes())
    CelFileReader(engine, "lab", path).read_available()
    day = datetime.fromtimestamp(1796370105, TZ).date()
    assert day == date(2026, 12, 4)
    report = reconcile_day(engine, classifier(), day)
    assert report.in_record == 2
    actions = {d.linkedid: (d.action, d.before, d.after) for d in report.differences}
    assert actions[ANSWERED_ID] == ("added", None, "answered")
    assert actions[IVR_ID] == ("differs", "abandoned", "short_abandoned")
    assert actions["cclab-only-live"] == ("not_in_record", "answered", None)
    # Run again: the added call is now there; the same differences are still reported.
    again = reconcile_day(engine, classifier(), day)
    assert again.count("added") == 0
    assert again.count("differs") == 1
    assert calls(engine)[ANSWERED_ID][2] == "pbx"


async def test_the_nightly_sweep_rechecks_yesterday_once(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "callcenter.csv"
    path.write_bytes(FIXTURE.read_bytes())
    CelFileReader(engine, "lab", path).read_available()
    seen: list[PassResult] = []
    follower = PbxRecordFollower(
        engine,
        CelFileReader(engine, "lab", path),
        classifier(),
        PbxRecordSettings(nightly_sweep="03:00"),
        seen.append,
    )
    before = datetime(2026, 12, 5, 2, 59, tzinfo=TZ)
    assert await follower.nightly_sweep(before) is None
    report = await follower.nightly_sweep(datetime(2026, 12, 5, 3, 0, tzinfo=TZ))
    assert report is not None
    assert report.day == "2026-12-04"
    assert report.count("added") == 2
    assert [sorted(r.added) for r in seen] == [[ANSWERED_ID, IVR_ID]]
    assert calls(engine)[ANSWERED_ID][:3] == ("answered", False, "pbx")
    # Once a day.
    assert await follower.nightly_sweep(datetime(2026, 12, 5, 23, 0, tzinfo=TZ)) is None
    assert len(seen) == 1
