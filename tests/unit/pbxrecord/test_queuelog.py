"""Asterisk's queue_log: its lines parsed, and the file read into the store with its own
durable cursor. Damaged and hostile lines are stored flagged and counted, never stop the
reader, and never move the time the file is known whole to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from callcenter.pbxrecord.queuelog import QueueLogParseError, parse_line
from callcenter.pbxrecord.reader import (
    QUEUE_LOG,
    CelFileReader,
    QueueLogReader,
    load_cursor,
)
from callcenter.store.db import make_engine, migrate
from callcenter.store.models import PbxRecordRow

# As Asterisk 16's app_queue and logger write them (apps/app_queue.c, main/logger.c).
LINES = [
    "1780272000|NONE|NONE|NONE|QUEUESTART|",
    "1780272005|MANAGER|small|PJSIP/agent1|ADDMEMBER|",
    "1780272010|NONE|small|Agent 1|PAUSE|休憩",
    "1780272012|NONE|NONE|Agent 1|PAUSEALL|",
    "1780272020|NONE|small|Agent 1|UNPAUSE|",
    "1780272030|cclab-1780272025.3|support|Agent 1|CONNECT|5|cclab-1780272030.4|2",
    "1780272090|cclab-1780272025.3|support|Agent 1|COMPLETEAGENT|5|60|1",
    "1780272100|CLI|small|PJSIP/agent1|REMOVEMEMBER|",
]


def test_the_lines_asterisk_writes() -> None:
    add = parse_line(LINES[1])
    assert (add.time, add.callid, add.queue, add.agent, add.event, add.data) == (
        1780272005, "MANAGER", "small", "PJSIP/agent1", "ADDMEMBER", ()
    )  # fmt: skip
    pause = parse_line(LINES[2] + "\n")
    assert (pause.event, pause.rest, pause.field(1), pause.field(2)) == (
        "PAUSE",
        "休憩",
        "休憩",
        "",
    )
    done = parse_line(LINES[6])
    assert done.data == ("5", "60", "1")
    assert parse_line(LINES[0]).data == ()


def test_a_reason_with_a_bar_in_it_is_kept_whole() -> None:
    # The reason is written with "%s": a '|' in it is the reason's, not a new field.
    assert parse_line("1780272010|NONE|q|Agent 1|PAUSE|a|b|").rest == "a|b|"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        "1780272010|NONE|q|Agent 1",  # four fields
        "notatime|NONE|q|a|PAUSE|x",
        "-1780272010|NONE|q|a|PAUSE|x",
        "１７８０２７２０１０|NONE|q|a|PAUSE|x",  # full-width digits: isdigit() but not ours
        "17802720101780272010|NONE|q|a|PAUSE|x",  # out of range
        "12|NONE|q|a|PAUSE|x",
        "1780272010|NONE|q|a||x",  # no event
        "1780272010|NONE|q|a|PAUSE\x1b[2J|x",  # a control sequence as the event
        "1780272010|NONE|q|a|PA USE|x",
        "1780272010|NONE|q|a\x00|PAUSE|x",
        "1780272010|NONE|q|a|PAUSE|" + "x" * 9000,
    ],
)
def test_damaged_and_hostile_lines_are_refused(line: str) -> None:
    with pytest.raises(QueueLogParseError):
        parse_line(line)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'cc.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def stored(engine: Engine, source: str = QUEUE_LOG) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return [
            (r.eventtype, r.note)
            for r in conn.execute(
                select(PbxRecordRow.eventtype, PbxRecordRow.note)
                .where(PbxRecordRow.source == source)
                .order_by(PbxRecordRow.id)
            )
        ]


def test_the_file_is_read_with_its_own_cursor_and_known_whole_to_the_read(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "queue_log"
    text = "\n".join(LINES) + "\n"
    cut = len(text[: text.index(LINES[2])].encode()) + 7  # a line Asterisk is half-way through
    path.write_bytes(text.encode()[:cut])
    before = datetime.now(UTC)
    first = QueueLogReader(engine, "lab", path).read_available()
    with engine.connect() as conn:
        cur = load_cursor(conn, "lab", QUEUE_LOG)
        assert load_cursor(conn, "lab") is None  # CEL's cursor is another
    assert cur is not None
    # Not at the end (half a line): known whole only up to its newest whole line.
    assert cur.read_until == datetime.fromtimestamp(1780272005, UTC)
    path.write_bytes(text.encode())
    second = QueueLogReader(engine, "lab", path).read_available()
    assert first.lines + second.lines == len(LINES)
    assert [e for e, _ in stored(engine)] == [ln.split("|")[4] for ln in LINES]
    with engine.connect() as conn:
        cur = load_cursor(conn, "lab", QUEUE_LOG)
    assert cur is not None
    assert cur.read_until is not None
    # At the end: every line written before the read began is in (less a second).
    assert before - timedelta(seconds=1) <= cur.read_until <= datetime.now(UTC)
    # Read again: nothing doubled; the CEL reader beside it sees none of these lines.
    assert QueueLogReader(engine, "lab", path).read_available().stored == 0
    assert CelFileReader(engine, "lab", tmp_path / "none.csv").read_available().lines == 0
    assert stored(engine, "cel") == []


def test_hostile_lines_are_stored_flagged_counted_and_the_rest_read(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "queue_log"
    hostile = [
        b"\xff\xfe\x00\x01 not UTF-8 with a NUL",
        b"1780272010|NONE|q|a|" + b"P" * 20000,
        b"\x1b]0;owned\x07|NONE|q|a|PAUSE|x",
        b"1780272010|NONE|q|a|PAUSE|\xe4\xbc",  # a cut UTF-8 character
        b"\r",
    ]
    good = [ln.encode() for ln in LINES[1:4]]
    path.write_bytes(b"\n".join([good[0], *hostile, *good[1:]]) + b"\n")
    res = QueueLogReader(engine, "lab", path).read_available()
    assert (res.lines, res.bad) == (7, 3)
    rows = stored(engine)
    assert [e for e, _ in rows] == [
        "ADDMEMBER", "UNPARSED", "UNPARSED", "UNPARSED", "PAUSE", "PAUSE", "PAUSEALL",
    ]  # fmt: skip
    assert all(note for e, note in rows if e == "UNPARSED")
    with engine.connect() as conn:
        lines = conn.execute(select(func.count()).select_from(PbxRecordRow)).scalar_one()
        kept = conn.execute(select(PbxRecordRow.line).where(PbxRecordRow.note.is_not(None)))
        assert all("\x00" not in line for (line,) in kept)
    assert lines == 7


def test_a_rotated_queue_log_is_finished_first(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(LINES[0] + "\n" + LINES[1] + "\n")
    reader = QueueLogReader(engine, "lab", path)
    reader.read_available()
    with path.open("a") as f:
        f.write(LINES[2] + "\n")
    path.rename(tmp_path / "queue_log.1")  # Asterisk's `logger rotate`
    path.write_text(LINES[4] + "\n")
    res = reader.read_available()
    assert res.lines == 2
    assert [e for e, _ in stored(engine)] == ["QUEUESTART", "ADDMEMBER", "PAUSE", "UNPAUSE"]


def test_a_line_made_by_a_callers_number_is_set_aside(engine: Engine, tmp_path: Path) -> None:
    """The lab's Asterisk 16, called from the number ``0312%0A1700000000%7CNONE...``,
    wrote these lines (the caller's number ends the ENTERQUEUE line, its line break
    starts a PAUSE of the caller's making, backdated to a stretch nobody saw)."""
    path = tmp_path / "queue_log"
    path.write_bytes(
        b"1796394157|NONE|NONE|NONE|QUEUESTART|\n"
        b"1796394158|cclab-1796394157.0|small|NONE|ENTERQUEUE||0312\n"
        b"1700000000|NONE|small|Agent 1|PAUSE|forged|1\n"
        b"1796394159|cclab-1796394157.0|small|Agent 2|RINGCANCELED|611\n"
        # Two threads: stamped 1796394158, written after a line stamped a second later.
        b"1796394158|NONE|small|Agent 2|UNPAUSE|\n"
        b"1796394159|cclab-1796394157.0|small|NONE|ABANDON|1|1|1\n"
    )
    res = QueueLogReader(engine, "lab", path).read_available()
    assert (res.lines, res.bad) == (6, 1)
    rows = stored(engine)
    assert [e for e, _ in rows] == [
        "QUEUESTART", "ENTERQUEUE", "UNPARSED", "RINGCANCELED", "UNPAUSE", "ABANDON"
    ]  # fmt: skip
    assert (rows[2][1] or "").startswith("out of order: dated before the line it follows")
    # Appended later, read from the cursor: a backdated line is set aside there too.
    with path.open("ab") as f:
        f.write(b"1796394100|NONE|small|Agent 1|PAUSE|forged|1\n")
        f.write(b"9796394100|NONE|small|Agent 1|PAUSE|forged|1\n")  # far in the future
    assert QueueLogReader(engine, "lab", path).read_available().bad == 2
