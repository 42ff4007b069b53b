"""`callcenter metrics` as users run it, on a prepared SQLite database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.cli import build_parser
from callcenter.metrics import GROUPINGS
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.calls import Outcome
from tests.unit.metrics.records import (
    TZ,
    abandoned,
    after_hours,
    answered,
    call,
    jst,
    load,
    short,
)

# June: nine calls on 06-01 09:00 and one on 06-30 23:30 (queue billing); one call each
# just outside June on both sides.
JUNE = [
    answered(10, handle=100),
    answered(20, handle=200),  # exactly the service level: within it
    answered(30.5),
    answered(60, handle=100, busy=True),
    abandoned(45),
    abandoned(120, busy=True),
    short(),
    after_hours(),
    call(Outcome.VOICEMAIL, queued=2, ended=500, routed="voicemail"),
    answered(10, arrived=jst(2024, 6, 30, 23, 30), queue="billing", agent="agent2"),
]
OUTSIDE = [
    abandoned(30, arrived=jst(2024, 5, 31, 23, 59)),
    abandoned(30, arrived=jst(2024, 7, 1, 0, 0)),
]


def run_cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "metrics", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=config.parent,
    )


def make_db(folder: Path, records: list[Any]) -> Path:
    db = folder / "cc.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        migrate(engine)
        load(engine, records)
    finally:
        engine.dispose()
    conf = folder / "cc.toml"
    conf.write_text(f'[database]\nurl = "sqlite:///{db}"\n')
    return conf


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_db(tmp_path_factory.mktemp("cli"), [*JUNE, *OUTSIDE])


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_month_as_json(config: Path) -> None:
    d = as_json(run_cli("--from", "2024-06-01", "--to", "2024-07-01", "--json", config=config))
    # Worked out by hand: 10 calls, minus 1 short and 1 after hours = 8 incoming; 5 answered
    # (waits 10, 20, 30.5, 60, 10; handles 100, 200, 60, 100, 60), 2 abandoned, 1 busy.
    assert d["calls"] == 10
    assert d["total_incoming"] == 8
    assert (d["answered"], d["abandoned"], d["busy"]) == (5, 2, 1)
    assert (d["short_abandoned"], d["after_hours"], d["voicemail"]) == (1, 1, 1)
    assert d["abandonment_rate"] == pytest.approx(2 / 8)
    assert d["busy_rate"] == pytest.approx(1 / 8)
    assert d["service_level"] == pytest.approx(3 / 8)
    assert d["service_level_seconds"] == 20.0
    assert d["asa_seconds"] == pytest.approx(130.5 / 5)
    assert d["aht_seconds"] == pytest.approx(520 / 5)
    assert d["max_wait_seconds"] == 120.0
    assert d["targets"] == {
        "abandonment_rate": {"target": 0.1, "met": False},
        "busy_rate": {"target": 0.05, "met": False},
        "service_level": {"target": 0.8, "met": False},
    }


def test_queue_filter(config: Path) -> None:
    d = as_json(
        run_cli(
            "--from",
            "2024-06-01",
            "--to",
            "2024-07-01",
            "--queue",
            "billing",
            "--json",
            config=config,
        )
    )
    assert (d["calls"], d["answered"], d["service_level"]) == (1, 1, 1.0)
    assert d["targets"]["service_level"]["met"] is True


@pytest.mark.parametrize(
    ("by", "keys"),
    [
        ("day", ["2024-05-31", "2024-06-01", "2024-06-30", "2024-07-01"]),
        ("hour", ["00", "09", "23"]),
        ("month", ["2024-05", "2024-06", "2024-07"]),
        ("agent", ["agent1", "agent2", "(none)"]),
        ("queue", ["billing", "support"]),
    ],
)
def test_grouped_json(config: Path, by: str, keys: list[str]) -> None:
    d = as_json(
        run_cli("--from", "2024-05-01", "--to", "2024-08-01", "--by", by, "--json", config=config)
    )
    assert d["by"] == by
    assert list(d["groups"]) == keys
    assert d["total"]["calls"] == 12
    assert sum(g["calls"] for g in d["groups"].values()) == 12
    assert sum(g["abandoned"] for g in d["groups"].values()) == d["total"]["abandoned"] == 4


def test_grouped_total_is_the_ungrouped_figures(config: Path) -> None:
    period = ("--from", "2024-06-01", "--to", "2024-07-01", "--json")
    grouped = as_json(run_cli(*period, "--by", "day", config=config))
    assert list(grouped["groups"]) == ["2024-06-01", "2024-06-30"]
    assert grouped["groups"]["2024-06-30"]["answered"] == 1
    whole = as_json(run_cli(*period, config=config))
    # Beside the figures, both state the definitions and the coverage of the period.
    for key in ("definitions", "coverage"):
        assert grouped[key] == whole.pop(key)
    assert grouped["total"] == whole
    assert whole["targets"]["abandonment_rate"]["met"] is False
    assert grouped["coverage"]["complete"] is False  # no daemon ever recorded coverage
    assert grouped["definitions"]["in_force"]["short_abandon_seconds"] == 5.0


def test_human_table(config: Path) -> None:
    result = run_cli("--from", "2024-06-01", "--to", "2024-07-01", config=config)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Calls 2024-06-01 to 2024-06-30 (Asia/Tokyo)" in out
    assert "25.00%" in out  # abandonment rate
    assert "12.50%" in out  # busy rate
    assert "37.50%" in out  # service level
    assert "target < 10.00%: NOT met" in out
    assert any(x.startswith("longest wait") and x.endswith(" 120.0 s") for x in out.splitlines())
    grouped = run_cli("--from", "2024-06-01", "--to", "2024-07-01", "--by", "queue", config=config)
    assert grouped.returncode == 0, grouped.stderr
    lines = grouped.stdout.splitlines()
    assert any(line.startswith("billing ") and "100.00%" in line for line in lines)
    assert any(line.startswith("total ") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2024-13-01", "--to", "2024-07-01"], "'2024-13-01' is not a day"),
        (["--from", "20240601", "--to", "2024-07-01"], "'20240601' is not a day"),
        (["--from", "2024-06-01", "--to", "2024-06-31"], "'2024-06-31' is not a day"),
        (["--from", "2024-07-01", "--to", "2024-06-01"], "must be before --to"),
        (["--from", "2024-06-01", "--to", "2024-06-01"], "must be before --to"),
        (["--from", "2024-06-01"], "give --from and --to"),
        (["--today", "--from", "2024-06-01"], "--today cannot go with"),
        (["--from", "2024-06-01", "--to", "2024-07-01", "--by", "week"], "invalid choice"),
    ],
)
def test_bad_periods_exit_2(config: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, config=config)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_today_and_a_new_database(tmp_path: Path) -> None:
    now = time.time()
    conf = make_db(tmp_path, [answered(5, arrived=now - 30)])
    d = as_json(run_cli("--today", "--json", config=conf))
    # The call is today's unless local midnight passed since it arrived.
    same_day = datetime.fromtimestamp(now - 30, TZ).date() == datetime.now(TZ).date()
    assert d["answered"] == (1 if same_day else 0)
    # A database file that does not exist yet is created and migrated: all zeros.
    empty = tmp_path / "empty"
    empty.mkdir()
    conf2 = empty / "cc.toml"
    conf2.write_text(f'[database]\nurl = "sqlite:///{empty / "new.db"}"\n')
    d = as_json(run_cli("--from", "2024-06-01", "--to", "2024-07-01", "--json", config=conf2))
    assert (d["calls"], d["abandonment_rate"], d["asa_seconds"]) == (0, 0.0, None)
    assert d["targets"]["abandonment_rate"]["met"] is None


def test_by_choices_are_the_groupings() -> None:
    parser = build_parser()
    args = parser.parse_args(["metrics", "--by", "month", "--today"])
    assert args.by == "month"
    for by in GROUPINGS:
        assert parser.parse_args(["metrics", "--by", by]).by == by
