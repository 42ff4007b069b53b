"""The outbox table on a real SQLite file: transactional enqueue, per-URL heads, marks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select, text

from callcenter.store.db import make_engine, migrate
from callcenter.store.models import AMIEvent, Base
from callcenter.webhooks import outbox
from callcenter.webhooks.outbox import TABLE, enqueue
from callcenter.webhooks.settings import WebhookSettings
from tests.unit.webhooks.support import outbox_rows

T0 = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
A, B = "http://127.0.0.1:9/a", "http://127.0.0.1:9/b"
SETTINGS = WebhookSettings(urls=(A, B), secret="x" * 16)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'wh.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(TABLE)) or 0)


def test_one_row_per_url_sharing_one_delivery_id(engine: Engine) -> None:
    with engine.begin() as conn:
        did = enqueue(
            conn, "incident.created", {"id": 7, "caller": "山田 太郎"}, T0, settings=SETTINGS
        )
    assert did is not None
    assert len(did) == 32
    rows = outbox_rows(engine)
    assert [r["url"] for r in rows] == [A, B]
    assert {r["delivery_id"] for r in rows} == {did}
    assert rows[0]["body"] == rows[1]["body"]
    body = json.loads(rows[0]["body"])
    assert body == {
        "id": did,
        "event": "incident.created",
        "created_at": "2030-01-02T03:04:05Z",
        "data": {"id": 7, "caller": "山田 太郎"},
    }
    assert "山田" in rows[0]["body"]  # kept readable, as signed and sent
    r = rows[0]
    assert (r["attempts"], r["dead"], r["delivered_at"], r["last_error"]) == (0, False, None, None)
    assert r["created_at"] == r["next_attempt_at"] == T0


def test_enqueue_rolls_back_with_the_callers_transaction(engine: Engine) -> None:
    """The incident and its webhooks commit together or not at all."""

    class IncidentFailedError(Exception):
        pass

    def write_incident_then_fail() -> None:
        with engine.begin() as conn:
            conn.execute(
                insert(AMIEvent),
                {
                    "server_id": "s",
                    "run_id": "r",
                    "seq": 1,
                    "received_at": T0,
                    "event": "incident",
                    "headers": {},
                },
            )
            assert enqueue(conn, "incident.created", {"id": 1}, T0, settings=SETTINGS)
            raise IncidentFailedError

    with pytest.raises(IncidentFailedError):
        write_incident_then_fail()
    assert count(engine) == 0
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AMIEvent)) == 0

    with engine.connect() as conn:
        tx = conn.begin()
        enqueue(conn, "incident.created", {"id": 2}, T0, settings=SETTINGS)
        tx.rollback()
    assert count(engine) == 0


def test_unsubscribed_events_and_no_urls_queue_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        assert enqueue(conn, "incident.commented", {}, T0, settings=SETTINGS) is None
        assert enqueue(conn, "incident.created", {}, T0, settings=WebhookSettings()) is None
    assert count(engine) == 0


def test_bad_input_fails_the_callers_transaction(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(TypeError):
            enqueue(conn, "incident.created", {"at": T0}, T0, settings=SETTINGS)
        with pytest.raises(ValueError, match=r"NaN|Out of range"):
            enqueue(conn, "incident.created", {"x": float("nan")}, T0, settings=SETTINGS)
        with pytest.raises(ValueError, match="timezone"):
            enqueue(conn, "incident.created", {}, T0.replace(tzinfo=None), settings=SETTINGS)
        with pytest.raises(ValueError, match="event"):
            enqueue(conn, "", {}, T0, settings=SETTINGS)
    assert count(engine) == 0


def test_heads_are_the_oldest_pending_row_of_each_url(engine: Engine) -> None:
    ids = []
    with engine.begin() as conn:
        for i in range(3):
            ids.append(
                enqueue(
                    conn, "incident.created", {"n": i}, T0 + timedelta(seconds=i), settings=SETTINGS
                )
            )
    with engine.connect() as conn:
        heads = outbox.heads(conn)
    assert [(h.url, h.delivery_id) for h in heads] == [(A, ids[0]), (B, ids[0])]

    with engine.begin() as conn:
        outbox.mark_delivered(conn, heads[0].id, T0, 200)
        # B's first row failed and must wait: B's second row must not overtake it.
        outbox.mark_failed(
            conn, heads[1].id, T0, "HTTP 500: no", T0 + timedelta(seconds=60), status=500
        )
    with engine.connect() as conn:
        heads = outbox.heads(conn)
        # Oldest first across URLs too: B's waiting row predates A's next one.
        assert [(h.url, h.delivery_id, h.attempts) for h in heads] == [
            (B, ids[0], 1),
            (A, ids[1], 0),
        ]
        assert [h.url for h in outbox.due(conn, T0 + timedelta(seconds=59))] == [A]
        assert [h.url for h in outbox.due(conn, T0 + timedelta(seconds=60))] == [B, A]
        assert outbox.pending_count(conn) == 5

    with engine.begin() as conn:
        outbox.mark_failed(conn, heads[0].id, T0, "gave up", T0, status=None, dead=True)
    with engine.connect() as conn:
        assert [(h.url, h.delivery_id) for h in outbox.heads(conn)] == [(A, ids[1]), (B, ids[1])]
    first_b = outbox_rows(engine)[1]
    assert (first_b["attempts"], first_b["dead"], first_b["last_error"]) == (2, True, "gave up")
    assert first_b["last_status"] is None


def test_revive_and_purge(engine: Engine) -> None:
    with engine.begin() as conn:
        enqueue(conn, "incident.created", {}, T0, settings=SETTINGS)
        enqueue(conn, "incident.resolved", {}, T0 + timedelta(days=10), settings=SETTINGS)
    rows = outbox_rows(engine)
    with engine.begin() as conn:
        outbox.mark_failed(conn, rows[0]["id"], T0, "e", T0, dead=True)
        outbox.mark_delivered(conn, rows[1]["id"], T0, 204)
        outbox.mark_delivered(conn, rows[3]["id"], T0, 204)
        assert outbox.revive_dead(conn, T0 + timedelta(hours=1), url=B) == 0
        assert outbox.revive_dead(conn, T0 + timedelta(hours=1), url=A) == 1
    revived = outbox_rows(engine)[0]
    assert (revived["dead"], revived["attempts"]) == (False, 0)
    assert revived["next_attempt_at"] == T0 + timedelta(hours=1)
    with engine.begin() as conn:
        # Only finished rows older than the cut-off go; pending ones are never purged.
        assert outbox.purge_finished(conn, T0 + timedelta(days=1)) == 1
    assert [r["id"] for r in outbox_rows(engine)] == [rows[0]["id"], rows[2]["id"], rows[3]["id"]]


def test_metadata_matches_the_migrations(engine: Engine) -> None:
    assert "webhook_outbox" in Base.metadata.tables
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_pending_heads_use_the_partial_index(engine: Engine) -> None:
    with engine.connect() as conn:
        stmt = (
            select(TABLE.c.url, func.min(TABLE.c.id))
            .where(outbox._pending())
            .group_by(TABLE.c.url)
            .compile(engine, compile_kwargs={"literal_binds": True})
        )
        plan = " ".join(str(r) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {stmt}")))
    assert "ix_webhook_outbox_pending" in plan


def test_migration_downgrades_and_upgrades_again(engine: Engine) -> None:
    from alembic import command

    from callcenter.store.db import alembic_config

    command.downgrade(alembic_config(engine), "0002")
    assert "webhook_outbox" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "webhook_outbox" in inspect(engine).get_table_names()
