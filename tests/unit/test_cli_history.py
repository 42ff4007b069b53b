"""The long commands' progress: a bar on a terminal, nothing in a pipe or a file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from callcenter.cli_history import Bar


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal() -> None:
    out = Tty()
    bar = Bar("rebuild: events", out)
    bar(5000, 20000)
    bar(20000, 20000)
    bar.close()
    text = out.getvalue()
    assert "\rrebuild: events [#######.......................] 5000/20000" in text
    assert "[" + "#" * 30 + "] 20000/20000" in text
    assert text.endswith("\n")


def test_nothing_in_a_pipe() -> None:
    out = io.StringIO()
    bar = Bar("rebuild: events", out)
    bar(1, 2)
    bar.close()
    assert out.getvalue() == ""


def test_agents_activity_rebuilds_and_prints_the_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`callcenter agents activity --rebuild`: the record from the stored events, then
    the hand-computed day (08:30-12:00, a 15-minute 'break', 40 minutes talking)."""
    import argparse
    import json
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from callcenter.cli_history import cmd_agents
    from callcenter.config import Config
    from callcenter.store.db import make_engine, migrate
    from callcenter.store.eventlog import event_row, write_rows
    from callcenter.store.settings import DatabaseConfig

    cfg = Config(database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'cc.db'}"))
    tz = ZoneInfo(cfg.service.timezone)

    def at(hhmm: str) -> float:
        h, m = hhmm.split(":")
        return datetime(2026, 6, 1, int(h), int(m), tzinfo=tz).timestamp()

    member = {"Queue": "support", "Interface": "PJSIP/agent1"}
    events = [
        (at("08:30"), {"Event": "QueueMemberAdded", **member, "Paused": "0"}),
        (at("09:40"), {"Event": "AgentComplete", **member, "TalkTime": "2400"}),
        (
            at("10:00"),
            {"Event": "QueueMemberPause", **member, "Paused": "1", "PausedReason": "break"},
        ),
        (at("10:15"), {"Event": "QueueMemberPause", **member, "Paused": "0"}),
        (at("12:00"), {"Event": "QueueMemberRemoved", **member}),
    ]
    engine = make_engine(cfg.database_url())
    migrate(engine)
    write_rows(engine, [event_row(h, r, cfg.server.id, "r", i) for i, (r, h) in enumerate(events)])
    engine.dispose()
    args = argparse.Namespace(
        day_from=date(2026, 6, 1), day_to=date(2026, 6, 2), agent=None, rebuild=True, json=True
    )
    assert cmd_agents(cfg, args) == 0
    (day,) = json.loads(capsys.readouterr().out)
    assert (day["agent"], day["login_seconds"], day["pause_by_reason"]) == (
        "agent1",
        12600,
        {"break": 900},
    )
    assert (day["talk_seconds"], day["occupancy"]) == (2400, 2400 / 11700)
    args.json = False
    assert cmd_agents(cfg, args) == 0
    out = capsys.readouterr().out
    assert (
        "agent1       2026-06-01     3:30     0:15     0:40     0:00     20.5%  break 0:15" in out
    )
    args.day_to = date(2026, 6, 1)
    assert cmd_agents(cfg, args) == 2
