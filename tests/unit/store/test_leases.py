"""Leases on SQLite and PostgreSQL: one holder at a time, renewal, expiry, release."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from callcenter.store import leases
from callcenter.store.db import make_engine, migrate
from callcenter.store.leases import LEASES

T0 = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        pg: Engine = request.getfixturevalue("pg_engine")
        with pg.begin() as conn:
            conn.execute(delete(LEASES))
        yield pg
        return
    eng = make_engine(f"sqlite:///{tmp_path / 'leases.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def test_one_holder_at_a_time_until_it_runs_out(engine: Engine) -> None:
    name = "pbxrecord.sweep/lab/2026-12-04"
    assert leases.acquire(engine, name, "daemon-a", T0, TTL)
    assert not leases.acquire(engine, name, "daemon-b", T0 + timedelta(minutes=1), TTL)
    assert leases.holder(engine, name, T0 + timedelta(minutes=1)) == "daemon-a"
    # Renewed by its holder: it lasts from the renewal on.
    assert leases.acquire(engine, name, "daemon-a", T0 + timedelta(minutes=9), TTL)
    assert not leases.acquire(engine, name, "daemon-b", T0 + timedelta(minutes=15), TTL)
    # Run out (its holder died): the other takes it, and the first cannot renew it.
    later = T0 + timedelta(minutes=20)
    assert leases.holder(engine, name, later) is None
    assert leases.acquire(engine, name, "daemon-b", later, TTL)
    assert not leases.acquire(engine, name, "daemon-a", later, TTL)
    assert leases.holder(engine, name, later) == "daemon-b"


def test_names_are_independent_and_release_frees_one(engine: Engine) -> None:
    assert leases.acquire(engine, "sweep/pbx-1", "a", T0, TTL)
    assert leases.acquire(engine, "sweep/pbx-2", "b", T0, TTL)
    assert not leases.release(engine, "sweep/pbx-1", "b")  # not b's to give up
    assert leases.release(engine, "sweep/pbx-1", "a")
    assert leases.acquire(engine, "sweep/pbx-1", "b", T0, TTL)
    assert leases.holder(engine, "sweep/pbx-2", T0) == "b"
    assert leases.purge_expired(engine, T0 + TTL + timedelta(seconds=1)) == 2
    assert leases.holder(engine, "sweep/pbx-1", T0) is None


def test_refuses_naive_times_and_empty_names(engine: Engine) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        leases.acquire(engine, "x", "a", datetime(2026, 1, 1), TTL)
    with pytest.raises(ValueError, match="1 to 200"):
        leases.acquire(engine, "", "a", T0, TTL)
    with pytest.raises(ValueError, match="positive"):
        leases.acquire(engine, "x", "a", T0, timedelta(0))


def test_racing_holders_one_wins(engine: Engine) -> None:
    """Eight threads (eight daemons) ask for one free name at once: exactly one has it."""
    won: list[str] = []
    start = threading.Barrier(8)

    def ask(who: str) -> None:
        start.wait()
        if leases.acquire(engine, "report.nightly", who, T0, TTL):
            won.append(who)

    threads = [threading.Thread(target=ask, args=(f"d{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert leases.holder(engine, "report.nightly", T0) == won[0]
