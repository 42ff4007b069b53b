"""The follow-up store on both databases: a SQLite file each, one private PostgreSQL per
session (its tables cleared per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from callcenter.store.db import make_engine, migrate
from callcenter.store.models import FollowupAttemptRow, FollowupCallRow, FollowupRow
from tests.support.postgres import migrated_postgres


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    with migrated_postgres() as engine:
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'f.db'}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")
    with eng.begin() as conn:
        for table in (FollowupRow, FollowupCallRow, FollowupAttemptRow):
            conn.execute(delete(table))
    yield eng
