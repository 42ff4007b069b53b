"""The sender against a real HTTP receiver on 127.0.0.1 and a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import Connection, Engine

from callcenter.backoff import backoff
from callcenter.store.db import make_engine, migrate
from callcenter.webhooks import outbox as outbox_mod
from callcenter.webhooks.outbox import Delivery, enqueue
from callcenter.webhooks.sender import WebhookSender, safe_url
from callcenter.webhooks.settings import WebhookSettings
from callcenter.webhooks.signing import EVENT_HEADER, TIMESTAMP_HEADER
from tests.unit.webhooks.support import (
    DROP,
    FAIL,
    HANG,
    OK,
    SECRET,
    SLOW,
    Receiver,
    free_port,
    now,
    outbox_rows,
    wait_until,
)

FAST = WebhookSettings(secret=SECRET, timeout=0.3, retry_min=0.05, retry_max=0.2, max_attempts=20)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wh.db"


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{db_path}")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def senders() -> AsyncIterator[list[WebhookSender]]:
    """Every sender a test makes is stopped at the end, even when the test fails."""
    made: list[WebhookSender] = []
    yield made
    for s in made:
        await s.stop()


def queue(
    engine: Engine,
    settings: WebhookSettings,
    n: int = 1,
    event: str = "incident.created",
) -> list[str]:
    ids = []
    with engine.begin() as conn:
        for i in range(n):
            did = enqueue(
                conn, event, {"incident": i, "caller": "山田 太郎"}, now(), settings=settings
            )
            assert did is not None
            ids.append(did)
    return ids


async def start(
    senders: list[WebhookSender], engine: Engine, settings: WebhookSettings, **kw: Any
) -> WebhookSender:
    kw.setdefault("environ", {})
    s = WebhookSender(engine, settings, **kw)
    senders.append(s)
    await s.start()
    return s


def all_finished(engine: Engine) -> Callable[[], bool]:
    return lambda: all(r["delivered_at"] or r["dead"] for r in outbox_rows(engine))


@pytest.mark.parametrize("second_failure", [HANG, DROP])
async def test_fails_twice_then_delivered_exactly_once(
    engine: Engine, receiver: Receiver, senders: list[WebhookSender], second_failure: str
) -> None:
    receiver.script["hook"] = [FAIL, second_failure]
    settings = FAST.model_copy(update={"urls": (receiver.url(),)})
    [did] = queue(engine, settings)
    await start(senders, engine, settings)
    # The row is committed in a thread, and the sender counts it once back on the loop:
    # wait for both (seen under CI load: the row first, the count a moment later).
    await wait_until(lambda: all_finished(engine)() and senders[0].delivered == 1, 10, "delivery")

    assert [r.action for r in receiver.received] == [FAIL, second_failure, OK]
    assert len(receiver.accepted()) == 1
    assert {r.delivery_id for r in receiver.received} == {did}
    assert all(r.signature_ok() for r in receiver.received)
    assert all(r.headers[EVENT_HEADER] == "incident.created" for r in receiver.received)
    # Each attempt is signed afresh, with its own timestamp, over the same bytes.
    stamps = [int(r.headers[TIMESTAMP_HEADER]) for r in receiver.received]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.time()) < 5
    [row] = outbox_rows(engine)
    assert {r.body for r in receiver.received} == {row["body"].encode("utf-8")}
    assert json.loads(row["body"])["data"] == {"incident": 0, "caller": "山田 太郎"}
    assert row["attempts"] == 3
    assert row["delivered_at"] is not None
    assert (row["dead"], row["last_status"]) == (False, 204)
    # The hang took at least the timeout: the sender did give up on it and retry.
    if second_failure == HANG:
        assert receiver.received[2].at - receiver.received[1].at >= FAST.timeout
        assert row["last_error"] == "timeout after 0.3 s"
    else:
        assert "ServerDisconnected" in row["last_error"]
    assert senders[0].delivered == 1
    assert senders[0].failed == 2


async def test_receiver_down_then_up(engine: Engine, senders: list[WebhookSender]) -> None:
    port = free_port()
    down = Receiver(port=port)
    settings = FAST.model_copy(update={"urls": (down.url(),)})
    [did] = queue(engine, settings, 1)
    await start(senders, engine, settings)
    await wait_until(lambda: outbox_rows(engine)[0]["attempts"] >= 2, 5, "refused attempts")
    row = outbox_rows(engine)[0]
    assert row["delivered_at"] is None
    assert "Connect" in (row["last_error"] or "")
    assert row["last_status"] is None
    up = await Receiver(port=port).start()
    try:
        await wait_until(all_finished(engine), 5, "delivery once up")
        assert [r.delivery_id for r in up.received] == [did]
        assert outbox_rows(engine)[0]["dead"] is False
    finally:
        await up.stop()


async def test_a_new_sender_on_the_same_file_delivers_what_a_stopped_one_left(
    db_path: Path, engine: Engine, receiver: Receiver, senders: list[WebhookSender]
) -> None:
    receiver.default = FAIL
    slow_retry = FAST.model_copy(
        update={"urls": (receiver.url(),), "retry_min": 0.6, "retry_max": 0.6}
    )
    ids = queue(engine, slow_retry, 2)
    first = await start(senders, engine, slow_retry)
    await wait_until(lambda: outbox_rows(engine)[0]["attempts"] == 1, 5, "first attempt")
    t0 = time.monotonic()
    await first.stop()  # in the middle of the backoff
    assert time.monotonic() - t0 < 0.5
    assert not first.running
    rows = outbox_rows(engine)
    assert [(r["attempts"], r["delivered_at"]) for r in rows] == [(1, None), (0, None)]

    receiver.default = OK
    engine2 = make_engine(f"sqlite:///{db_path}")  # as after a restart
    try:
        await start(senders, engine2, slow_retry)
        await wait_until(all_finished(engine2), 5, "delivery by the new sender")
    finally:
        engine2.dispose()
    rows = outbox_rows(engine)
    assert [r["attempts"] for r in rows] == [2, 1]
    assert [r.delivery_id for r in receiver.accepted()] == ids
    # The stored retry time was honoured across the restart.
    assert rows[0]["delivered_at"] >= rows[0]["created_at"] + timedelta(seconds=0.3)


async def test_order_is_kept_per_url_and_one_slow_url_holds_up_no_other(
    engine: Engine, receiver: Receiver, senders: list[WebhookSender]
) -> None:
    # "a" fails every other request: each event needs a retry, yet none overtakes another.
    receiver.script["a"] = [FAIL, OK] * 6
    receiver.script["stuck"] = [FAIL] * 1000
    settings = FAST.model_copy(
        update={
            "urls": (receiver.url("a"), receiver.url("b"), receiver.url("stuck")),
            "retry_min": 0.02,
            "retry_max": 0.05,
        }
    )
    ids = queue(engine, settings, 6)
    await start(senders, engine, settings)
    await wait_until(
        lambda: sum(1 for r in outbox_rows(engine) if r["delivered_at"]) == 12, 10, "a and b"
    )
    assert [r.delivery_id for r in receiver.accepted("a")] == ids
    assert [r.delivery_id for r in receiver.accepted("b")] == ids
    # Every attempt at "a", failed ones included, went out in order.
    seen = [ids.index(r.delivery_id) for r in receiver.on("a")]
    assert seen == sorted(seen)
    assert len(seen) == 12
    # "stuck" only ever saw its first event.
    assert {r.delivery_id for r in receiver.on("stuck")} == {ids[0]}


async def test_dead_after_max_attempts_then_the_next_row_goes(
    engine: Engine, receiver: Receiver, senders: list[WebhookSender]
) -> None:
    receiver.script["hook"] = [FAIL] * 3
    settings = FAST.model_copy(update={"urls": (receiver.url(),), "max_attempts": 3})
    ids = queue(engine, settings, 2)
    with structlog.testing.capture_logs() as logs:
        sender = await start(senders, engine, settings)
        await wait_until(all_finished(engine), 5, "dead, then delivered")
    rows = outbox_rows(engine)
    assert [(r["attempts"], r["dead"], r["delivered_at"] is None) for r in rows] == [
        (3, True, True),
        (1, False, False),
    ]
    assert rows[0]["last_status"] == 500
    assert rows[0]["last_error"] == "HTTP 500: server error"
    assert [r.delivery_id for r in receiver.received] == [ids[0]] * 3 + [ids[1]]
    dead = [e for e in logs if e["event"] == "webhook.dead"]
    assert len(dead) == 1
    assert dead[0]["log_level"] == "warning"
    assert dead[0]["delivery_id"] == ids[0]
    assert dead[0]["attempt"] == 3
    assert sender.dead == 1


async def test_the_secret_never_reaches_logs_or_last_error(
    engine: Engine, receiver: Receiver, senders: list[WebhookSender]
) -> None:
    receiver.script["hook"] = [FAIL, FAIL]
    receiver.error_body = f"bad signature, expected secret {SECRET}"
    url = receiver.url() + "?token=url-token-123"
    settings = FAST.model_copy(update={"urls": (url,), "secret": "", "max_attempts": 2})
    queue(engine, settings, 2)
    with structlog.testing.capture_logs() as logs:
        await start(senders, engine, settings, environ={settings.secret_env: SECRET})
        await wait_until(all_finished(engine), 5, "first row dead, second delivered")
    rows = outbox_rows(engine)
    assert [(r["dead"], r["delivered_at"] is None) for r in rows] == [(True, True), (False, False)]
    assert len(receiver.received) == 3  # 2 attempts at the first, 1 at the second
    assert all(r.signature_ok() for r in receiver.received)
    text = repr(logs) + repr([r["last_error"] for r in rows])
    assert "***" in rows[0]["last_error"]
    assert SECRET not in text
    assert "url-token-123" not in repr(logs)
    assert any(e["event"] == "webhook.dead" for e in logs)


async def test_wake_sends_at_once_even_from_another_thread(
    engine: Engine, receiver: Receiver, senders: list[WebhookSender]
) -> None:
    settings = FAST.model_copy(update={"urls": (receiver.url(),)})
    sender = await start(senders, engine, settings, poll_interval=60)
    await asyncio.sleep(0.1)  # the sender is now idle until the poll

    def commit_incident_and_wake() -> str:
        [did] = queue(engine, settings)
        sender.wake()
        return did

    t0 = time.monotonic()
    did = await asyncio.to_thread(commit_incident_and_wake)
    await wait_until(all_finished(engine), 3, "delivery after wake()")
    assert time.monotonic() - t0 < 3
    assert [r.delivery_id for r in receiver.accepted()] == [did]

    [did2] = queue(engine, settings)
    sender.wake()
    await wait_until(all_finished(engine), 3, "delivery after wake() on the loop")
    assert [r.delivery_id for r in receiver.accepted()] == [did, did2]


async def test_a_database_outage_does_not_kill_the_sender(
    engine: Engine, receiver: Receiver, senders: list[WebhookSender], db_path: Path
) -> None:
    settings = FAST.model_copy(update={"urls": (receiver.url(),)})
    broken = make_engine(f"sqlite:///{db_path.parent / 'unmigrated.db'}")
    sender = await start(senders, broken, settings, poll_interval=0.05)
    # No table there: every read fails, the sender backs off and stays alive.
    await asyncio.sleep(0.3)
    assert sender.running
    assert not sender.healthy
    await sender.stop()
    broken.dispose()


async def test_refuses_to_send_unsigned(engine: Engine) -> None:
    sender = WebhookSender(engine, WebhookSettings(urls=("http://127.0.0.1:9/",)), environ={})
    with pytest.raises(ValueError, match="CALLCENTER_WEBHOOK_SECRET"):
        await sender.start()
    env = {"CALLCENTER_WEBHOOK_SECRET": "from-env-1234"}
    sender = WebhookSender(engine, WebhookSettings(urls=("http://127.0.0.1:9/",)), environ=env)
    await sender.start()
    await sender.stop()


def test_backoff_grows_within_bounds() -> None:
    rng = random.Random(1)
    for attempts in range(1, 30):
        for _ in range(20):
            d = backoff(attempts - 1, 1.0, 300.0, rng.random)  # as the sender calls it
            step = min(300.0, 2.0 ** (attempts - 1))
            assert max(1.0, step / 2) <= d <= step
    assert backoff(29, 1.0, 300.0, rng.random) >= 150
    assert backoff(0, 1.0, 300.0, rng.random) == 1.0


def test_safe_url_drops_credentials() -> None:
    assert safe_url("https://u:pw@vendor.example:8443/hooks/cc?token=t") == (
        "https://vendor.example:8443/hooks/cc"
    )


async def test_a_slow_read_racing_a_finished_attempt_sends_nothing_twice(
    engine: Engine,
    receiver: Receiver,
    senders: list[WebhookSender],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_heads = outbox_mod.heads

    def slow_heads(conn: Connection) -> list[Delivery]:
        found = real_heads(conn)
        time.sleep(0.05)  # an attempt commits meanwhile: what was read is now stale
        return found

    monkeypatch.setattr(outbox_mod, "heads", slow_heads)
    receiver.script["hook"] = [FAIL, SLOW, FAIL, SLOW]
    receiver.default = SLOW
    settings = FAST.model_copy(
        update={"urls": (receiver.url(),), "retry_min": 0.01, "retry_max": 0.01}
    )
    ids = queue(engine, settings, 5)
    await start(senders, engine, settings, poll_interval=0.01)
    await wait_until(all_finished(engine), 5, "all delivered")
    await asyncio.sleep(0.2)  # room for a stray second send
    assert [r.delivery_id for r in receiver.accepted()] == ids
    assert [r["attempts"] for r in outbox_rows(engine)] == [2, 2, 1, 1, 1]
