"""Alembic environment: the engine is handed in by callcenter.store.db.migrate."""

from __future__ import annotations

from alembic import context

# These modules define tables of their own: Base.metadata must know every table.
import callcenter.web.auth
import callcenter.webhooks.outbox  # noqa: F401
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
