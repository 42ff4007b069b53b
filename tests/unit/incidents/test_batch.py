"""Incidents opened in batches (the daemon's desk writes every opening queued since its
last write in one transaction): the same incidents as one by one, in order, once each;
an outage retries the batch whole, a bad call is set apart alone, and a survey still
lands on the incident opened just before it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from callcenter.incidents.desk import IncidentDesk
from callcenter.incidents.model import IncidentError
from callcenter.incidents.store import HISTORY, INCIDENTS, IncidentStore
from callcenter.store.db import make_engine, migrate
from callcenter.store.models import QuarantineRow
from callcenter.webhooks.outbox import TABLE as OUTBOX

from .test_store import HOOKS, T0, answered_call, count

WINDOW = timedelta(hours=24)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'batch.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def test_a_batch_opens_what_one_by_one_would(engine: Engine, tmp_path: Path) -> None:
    calls = [
        answered_call("a", "0311110001"),
        answered_call("b", "0322220002", at=T0 + timedelta(minutes=1)),
        answered_call("c", "0311110001", at=T0 + timedelta(minutes=2)),  # a's caller again
        answered_call("a", "0311110001"),  # the same call twice (a replay)
    ]
    store = IncidentStore(engine, webhooks=HOOKS)
    got = store.open_for_calls([(c, "agent1") for c in calls], at=T0, repeat_window=WINDOW)

    one = make_engine(f"sqlite:///{tmp_path / 'one.db'}")
    migrate(one)
    single = IncidentStore(one, webhooks=HOOKS)
    expected = [
        single.open_for_call(c, agent_id="agent1", at=T0, repeat_window=WINDOW) for c in calls
    ]
    one.dispose()

    assert [opened for _, opened in got] == [True, True, True, False]
    assert got == expected  # ids, links, times: the same incidents
    a, b, c, again = (i for i, _ in got)
    assert c.related_incident_id == a.id  # linked to the one opened earlier in the batch
    assert b.related_incident_id is None
    assert again == a
    assert (count(engine, INCIDENTS), count(engine, HISTORY), count(engine, OUTBOX)) == (3, 3, 3)
    # And a later batch with a call already opened gives it back, unchanged.
    [(first, opened)] = store.open_for_calls(
        [(calls[1], "agent1")], at=T0 + timedelta(hours=1), repeat_window=WINDOW
    )
    assert (first, opened) == (b, False)
    assert count(engine, INCIDENTS) == 3


def test_a_batch_is_all_or_nothing(engine: Engine) -> None:
    store = IncidentStore(engine)
    bad = answered_call("bad", "0311110002")
    bad.answered_at = bad.arrived_at - 60  # answered before it arrived: refused
    with pytest.raises(IncidentError, match="answered_at"):
        store.open_for_calls(
            [(answered_call("good"), "agent1"), (bad, "agent1")], at=T0, repeat_window=WINDOW
        )
    assert count(engine, INCIDENTS) == 0


async def settle(desk: IncidentDesk) -> None:
    for _ in range(500):
        if desk.pending == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the desk did not finish")


async def test_the_desk_writes_a_backlog_in_batches_through_an_outage(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IncidentStore(engine)
    desk = IncidentDesk(store, retry_min=0.01, retry_max=0.02, clock=lambda: T0)
    real = store.open_for_calls
    sizes: list[int] = []
    down = {"left": 2}

    def flaky(calls, **kwargs):  # type: ignore[no-untyped-def]
        sizes.append(len(calls))
        if down["left"]:
            down["left"] -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(calls, **kwargs)

    monkeypatch.setattr(store, "open_for_calls", flaky)
    monkeypatch.setattr("callcenter.incidents.desk.OPEN_BATCH", 50)
    for i in range(120):
        desk.call_answered(answered_call(f"c-{i}", f"03111{i:05d}"))
    desk.survey_answer("lab", "c-119", "0311100119", 4, T0 + timedelta(minutes=3))
    desk.call_answered(answered_call("after", "0399990000"))
    await desk.start()
    await settle(desk)
    await desk.stop()
    # Two failed tries of the first 50, then 50, 50, 20 (the survey ends that batch),
    # then the last opening alone.
    assert sizes == [50, 50, 50, 50, 20, 1]
    assert desk.failures == 2
    assert count(engine, INCIDENTS) == 121
    c119 = store.find_by_call("lab", "c-119")
    assert c119 is not None
    assert [s.incident_id for s in store.surveys_of([c119.id or 0])] == [c119.id]
    with engine.connect() as conn:
        linkedids = conn.execute(select(INCIDENTS.c.call_linkedid)).scalars().all()
    assert len(set(linkedids)) == 121


async def test_a_bad_call_in_a_batch_is_set_apart_alone(engine: Engine) -> None:
    store = IncidentStore(engine)
    desk = IncidentDesk(store, clock=lambda: T0)
    bad = answered_call("bad", "0311110002")
    bad.answered_at = bad.arrived_at - 60
    for call in (answered_call("one", "0311110001"), bad, answered_call("two", "0311110003")):
        desk.call_answered(call)
    await desk.start()
    await settle(desk)
    await desk.stop()
    assert store.find_by_call("lab", "one") is not None
    assert store.find_by_call("lab", "two") is not None
    assert store.find_by_call("lab", "bad") is None
    with engine.connect() as conn:
        refs = conn.execute(select(QuarantineRow.ref)).scalars().all()
    assert refs == ["_Open:bad"]
    assert desk.quarantined == 1
