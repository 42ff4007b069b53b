"""Alembic environment: the engine is handed in by callcenter.store.db.migrate."""

from __future__ import annotations

from alembic import context

# Every table is in store/models.py: Base.metadata knows them all.
from callcenter.store.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
