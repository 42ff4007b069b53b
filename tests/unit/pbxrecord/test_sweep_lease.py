"""The nightly sweep runs once per PBX and day, however many daemons follow the PBX."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from callcenter.pbxrecord.follower import (
    SWEEP_LEASE,
    SWEEP_RETRY,
    PbxRecordFollower,
    sweep_lease_name,
)
from callcenter.pbxrecord.reader import CelFileReader
from callcenter.pbxrecord.reconcile import Classifier, PassResult
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.store import leases
from callcenter.store.db import make_engine, migrate
from tests.unit.pbxrecord.test_reader_reconcile import FIXTURE, TZ

AT = datetime(2026, 12, 5, 3, 0, tzinfo=TZ)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'cc.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def follower(
    engine: Engine, path: Path, seen: list[PassResult], server: str = "lab", who: str = ""
) -> PbxRecordFollower:
    return PbxRecordFollower(
        engine,
        CelFileReader(engine, server, path),
        Classifier(server, TZ, 5.0, {"agent1": "Agent 1"}),
        PbxRecordSettings(nightly_sweep="03:00"),
        seen.append,
        holder=who or None,
    )


@pytest.fixture
def cel(engine: Engine, tmp_path: Path) -> Path:
    path = tmp_path / "callcenter.csv"
    path.write_bytes(FIXTURE.read_bytes())
    CelFileReader(engine, "lab", path).read_available()
    return path


async def test_two_daemons_of_one_pbx_sweep_the_day_once(engine: Engine, cel: Path) -> None:
    seen_a: list[PassResult] = []
    seen_b: list[PassResult] = []
    a, b = follower(engine, cel, seen_a), follower(engine, cel, seen_b)
    assert a.holder != b.holder
    report = await a.nightly_sweep(AT)
    assert report is not None
    assert report.count("added") == 2
    # The other daemon of the same PBX: not now, and not later that day either.
    assert await b.nightly_sweep(AT) is None
    assert await b.nightly_sweep(AT + SWEEP_RETRY + timedelta(minutes=1)) is None
    assert await b.nightly_sweep(AT + timedelta(hours=20)) is None
    assert len(seen_a) == 1
    assert seen_b == []
    # The next night is a new day: whoever asks first sweeps it.
    assert await b.nightly_sweep(AT + timedelta(days=1)) is not None
    assert await a.nightly_sweep(AT + timedelta(days=1)) is None


async def test_each_pbx_sweeps_its_own_record(engine: Engine, cel: Path) -> None:
    lab, other = follower(engine, cel, []), follower(engine, cel, [], server="pbx-2")
    assert await lab.nightly_sweep(AT) is not None
    assert await other.nightly_sweep(AT) is not None  # its own lease, its own record


async def test_a_daemon_that_died_sweeping_is_taken_over_once_its_lease_runs_out(
    engine: Engine, cel: Path
) -> None:
    name = sweep_lease_name("lab", "2026-12-04")
    assert leases.acquire(engine, name, "lab/died", AT, SWEEP_LEASE)
    b = follower(engine, cel, [], who="lab/b")
    assert await b.nightly_sweep(AT + timedelta(minutes=10)) is None
    report = await b.nightly_sweep(AT + SWEEP_LEASE + timedelta(minutes=1))
    assert report is not None
    assert report.count("added") == 2
    assert leases.holder(engine, name, AT + timedelta(hours=30)) == "lab/b"  # the day is done


async def test_the_sweep_leaves_the_days_figure_cells_current(engine: Engine, cel: Path) -> None:
    from callcenter.metrics.cells import stale_days
    from callcenter.metrics.settings import MetricsConfig

    cfg = MetricsConfig()
    f = follower(engine, cel, [])
    f.figures = cfg
    report = await f.nightly_sweep(AT)
    assert report is not None
    assert report.count("added") == 2  # the two calls it added stamped their day ...
    with engine.connect() as conn:
        # ... and the sweep computed that day's cells after them.
        assert stale_days(conn, cfg, "2026-12-04", "2026-12-05", None) == {}
        assert stale_days(conn, cfg.model_copy(update={"service_level_seconds": 1}),
                          "2026-12-04", "2026-12-05", None) != {}  # fmt: skip
