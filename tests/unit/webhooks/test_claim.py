"""Two senders on one PostgreSQL (two daemons): each row is posted once, in order."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from callcenter.store.db import make_engine, migrate
from callcenter.webhooks import outbox
from callcenter.webhooks.outbox import TABLE, enqueue
from callcenter.webhooks.sender import WebhookSender
from callcenter.webhooks.settings import WebhookSettings
from tests.support.postgres import migrated_postgres
from tests.unit.webhooks.support import SECRET, SLOW, Receiver, now, outbox_rows, wait_until

FAST = WebhookSettings(secret=SECRET, timeout=2.0, retry_min=0.05, retry_max=0.2, max_attempts=20)


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    with migrated_postgres() as engine:
        yield engine


@pytest.fixture
def pg_engine(pg: Engine) -> Engine:
    with pg.begin() as conn:
        conn.execute(delete(TABLE))
    return pg


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'wh.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver(default=SLOW).start()
    yield r
    await r.stop()


def _queue(engine: Engine, settings: WebhookSettings, n: int) -> list[str]:
    ids = []
    with engine.begin() as conn:
        for i in range(n):
            did = enqueue(conn, "incident.created", {"incident": i}, now(), settings=settings)
            assert did is not None
            ids.append(did)
    return ids


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_claimed_row_is_not_claimed_again(dialect: str, request: pytest.FixtureRequest) -> None:
    engine: Engine = request.getfixturevalue(
        f"{'pg' if dialect == 'postgresql' else 'sqlite'}_engine"
    )
    settings = FAST.model_copy(update={"urls": ("http://127.0.0.1:9/a",)})
    _queue(engine, settings, 2)
    first, second = (r["id"] for r in outbox_rows(engine))
    t = now()
    later = t + timedelta(seconds=60)
    with engine.begin() as conn:
        # The second row waits for the first (its URL's head): never claimed before it.
        assert outbox.claim(conn, second, t, later) is None
        got = outbox.claim(conn, first, t, later)
        assert got is not None
        assert (got.id, got.attempts) == (first, 0)
    with engine.begin() as conn:
        assert outbox.claim(conn, first, t, later) is None  # not due: claimed
        # Its claim ran out (the sender died): another sender takes it.
        again = outbox.claim(conn, first, later, later + timedelta(seconds=60))
        assert again is not None
        assert again.id == first
        outbox.mark_delivered(conn, first, later, 204)
    with engine.begin() as conn:
        assert outbox.claim(conn, first, later, later) is None  # delivered
        nxt = outbox.claim(conn, second, later, later)
        assert nxt is not None
        assert nxt.id == second


def test_a_row_being_claimed_is_skipped_not_waited_for(pg_engine: Engine) -> None:
    settings = FAST.model_copy(update={"urls": ("http://127.0.0.1:9/a",)})
    _queue(pg_engine, settings, 1)
    [row] = outbox_rows(pg_engine)
    t = now()
    with pg_engine.connect() as a, pg_engine.connect() as b:
        with a.begin():
            assert outbox.claim(a, row["id"], t, t + timedelta(seconds=60)) is not None
            with b.begin():
                # SKIP LOCKED: at once, and empty-handed, while the first claim is open.
                assert outbox.claim(b, row["id"], t, t + timedelta(seconds=60)) is None
        with b.begin():
            assert outbox.claim(b, row["id"], t, t + timedelta(seconds=60)) is None


async def test_two_senders_on_one_postgresql_send_each_event_once(
    pg: Engine, pg_engine: Engine, receiver: Receiver
) -> None:
    settings = FAST.model_copy(update={"urls": (receiver.url("a"), receiver.url("b"))})
    ids = _queue(pg_engine, settings, 40)
    # Two daemons: two engines (two pools) on the one database, both polling fast.
    url = pg.url.render_as_string(hide_password=False)
    other = make_engine(url)
    senders = [
        WebhookSender(pg_engine, settings, environ={}, poll_interval=0.01),
        WebhookSender(other, settings, environ={}, poll_interval=0.01),
    ]
    try:
        await asyncio.gather(*(s.start() for s in senders))

        def finished() -> bool:
            return all(r["delivered_at"] is not None for r in outbox_rows(pg_engine))

        await wait_until(finished, 60, "every row delivered")
    finally:
        for s in senders:
            await s.stop()
        other.dispose()
    for path in ("a", "b"):
        got = [r.delivery_id for r in receiver.on(path)]
        assert Counter(got) == Counter(ids), f"{path}: each event once"
        assert got == ids  # in order
        assert [json.loads(r.body)["data"]["incident"] for r in receiver.on(path)] == list(
            range(40)
        )
    assert all(r["attempts"] == 1 for r in outbox_rows(pg_engine))
    assert sum(s.delivered for s in senders) == 80
    # Both took part (the point of the test): neither sat idle while the other sent all.
    assert all(s.delivered > 0 for s in senders)
