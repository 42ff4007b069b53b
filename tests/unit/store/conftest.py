"""Databases for the store tests: a SQLite file each, and one private PostgreSQL per
session (its tables are cleared by the tests that use it)."""

from __future__ import annotations

import glob
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from callcenter.store.db import make_engine, migrate


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    from tests.support.postgres import PostgresServer

    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        pytest.skip("PostgreSQL server binaries not installed")
    pg = PostgresServer()
    engine: Engine | None = None
    try:
        pg.start()
        engine = make_engine(pg.url)
        migrate(engine)
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        pg.destroy()
