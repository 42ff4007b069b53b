"""Databases for the store tests: a SQLite file each, and one private PostgreSQL per
session (its tables are cleared by the tests that use it). The set-up script installs
PostgreSQL, so a missing server fails here loudly instead of skipping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.support.postgres import migrated_postgres


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    with migrated_postgres() as engine:
        yield engine
