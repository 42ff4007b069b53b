"""The webhook outbox and sender on a private PostgreSQL (the unit tests use SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, delete, text

from callcenter.store.models import Base
from callcenter.webhooks import outbox
from callcenter.webhooks.outbox import TABLE, enqueue
from callcenter.webhooks.sender import WebhookSender
from callcenter.webhooks.settings import WebhookSettings
from tests.unit.webhooks.support import (
    FAIL,
    HANG,
    SECRET,
    Receiver,
    now,
    outbox_rows,
    wait_until,
)

SETTINGS = WebhookSettings(secret=SECRET, timeout=0.3, retry_min=0.05, retry_max=0.2)


@pytest.fixture
def engine(pg_engine: Engine) -> Engine:
    with pg_engine.begin() as conn:
        conn.execute(delete(TABLE))
    return pg_engine


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


def test_metadata_matches_the_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        # On PostgreSQL the event log is partitioned by month (migration 0017): its
        # month tables are not models, and its unique key also holds received_at.
        def include(obj: object, name: str | None, kind: str, reflected: bool,
                    compare_to: object) -> bool:  # fmt: skip
            table = getattr(obj, "table", obj) if kind != "table" else obj
            table_name = getattr(table, "name", "")
            if kind == "table" and str(name).startswith("ami_events_"):
                return False
            return not (
                table_name.startswith("ami_events_")
                or (kind == "index" and name == "ux_ami_events_run_seq")
            )

        context = MigrationContext.configure(conn, opts={"include_object": include})
        assert compare_metadata(context, Base.metadata) == []
        partitioned = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ux_ami_events_run_seq'")
        ).scalar()
        assert "(server_id, run_id, seq, received_at)" in str(partitioned)
        index = conn.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_webhook_outbox_pending'")
        )
    assert "WHERE ((delivered_at IS NULL) AND (dead = false))" in str(index)


def test_enqueue_commits_and_rolls_back_with_the_caller(engine: Engine) -> None:
    settings = SETTINGS.model_copy(
        update={"urls": ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")}
    )
    with engine.connect() as conn:
        tx = conn.begin()
        enqueue(conn, "incident.created", {"n": 1}, now(), settings=settings)
        tx.rollback()
    assert outbox_rows(engine) == []

    t0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with engine.begin() as conn:
        did = enqueue(conn, "incident.created", {"caller": "山田 太郎"}, t0, settings=settings)
        enqueue(conn, "incident.resolved", {}, t0, settings=settings)
    rows = outbox_rows(engine)
    assert [(r["delivery_id"], r["url"][-1]) for r in rows[:2]] == [(did, "a"), (did, "b")]
    assert rows[0]["created_at"] == t0
    assert "山田 太郎" in rows[0]["body"]
    with engine.connect() as conn:
        assert [h.delivery_id for h in outbox.heads(conn)] == [did, did]
        assert outbox.pending_count(conn) == 4


async def test_flaky_receiver_gets_every_event_once_in_order(
    engine: Engine, receiver: Receiver
) -> None:
    receiver.script["a"] = [FAIL, HANG]
    settings = SETTINGS.model_copy(update={"urls": (receiver.url("a"), receiver.url("b"))})
    with engine.begin() as conn:
        ids = [
            enqueue(conn, "incident.escalated", {"n": i}, now(), settings=settings)
            for i in range(4)
        ]
    first = WebhookSender(engine, settings, environ={})
    await first.start()
    await wait_until(lambda: outbox_rows(engine)[0]["attempts"] >= 1, 5, "a first attempt")
    await first.stop()  # a restart in the middle of the retries

    second = WebhookSender(engine, settings, environ={})
    await second.start()
    try:
        await wait_until(
            lambda: all(r["delivered_at"] for r in outbox_rows(engine)), 10, "all delivered"
        )
    finally:
        await second.stop()
    for path in ("a", "b"):
        assert [r.delivery_id for r in receiver.accepted(path)] == ids
    assert all(r.signature_ok() for r in receiver.received)
    attempts = {(r["url"][-1], r["delivery_id"]): r["attempts"] for r in outbox_rows(engine)}
    assert attempts[("a", ids[0])] == 3
    assert sum(attempts.values()) == 8 + 2
