"""Fixtures: a migrated SQLite file per test (copied from one migrated once) and the API
serving it on a real port, with four tokens (supervisor, admin, two agents)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from structlog.testing import capture_logs

from callcenter.store.db import make_engine, migrate
from tests.unit.web.support import Api, Clock, start_api


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrating takes a while; copying the result takes nothing."""
    path = tmp_path_factory.mktemp("web-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # closing the last connection folds the WAL into the file
    return path


@pytest.fixture
def engine(migrated_db: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "api.db"
    shutil.copyfile(migrated_db, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(engine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Api]:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        a = await start_api(engine, clock)
        try:
            yield a
        finally:
            await a.client.close()
    # Whatever the test did, no token came back in an answer or went to a log.
    for token in a.token.values():
        assert all(token not in r.text and token not in str(r.headers) for r in a.replies)
        assert token not in repr(logs)
        assert token not in caplog.text
