"""The incident store on a real SQLite file: one incident per call, repeat callers linked,
every change with its history row and its webhook in the same transaction, concurrent
changes serialised, surveys stored once; and the desk that feeds it from the daemon."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from callcenter.incidents.desk import IncidentDesk
from callcenter.incidents.model import IncidentError, SurveyResponse
from callcenter.incidents.store import (
    HISTORY,
    INCIDENTS,
    IncidentFilter,
    IncidentNotFound,
    IncidentStore,
)
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.calls import CallRecord
from callcenter.webhooks.outbox import TABLE as OUTBOX
from callcenter.webhooks.settings import WebhookSettings

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tuesday 10:00 JST
HOOKS = WebhookSettings(urls=("http://127.0.0.1:9/hook",), secret="s")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'inc.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def answered_call(linkedid: str, number: str = "0311110001", at: datetime = T0) -> CallRecord:
    t = at.timestamp()
    return CallRecord(
        server_id="lab",
        linkedid=linkedid,
        arrived_at=t,
        caller_num=number,
        caller_name="山田 太郎",
        queue="support",
        ivr_path=["main:1"],
        queued_at=t + 2,
        answered_at=t + 12,
        agent="Agent One",
        agent_interface="PJSIP/agent1",
    )


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_an_answered_call_opens_one_incident_with_its_facts(engine: Engine) -> None:
    store = IncidentStore(engine, webhooks=HOOKS)
    call = answered_call("cclab-1.1")
    inc, opened = store.open_for_call(
        call, agent_id="agent1", at=T0 + timedelta(seconds=13), repeat_window=timedelta(hours=24)
    )
    assert opened
    assert inc.id is not None
    got = store.get(inc.id)
    assert got == inc
    assert (got.caller_number, got.caller_name, got.queue) == ("0311110001", "山田 太郎", "support")
    assert (got.agent, got.agent_id, got.ivr_path) == ("Agent One", "agent1", ("main:1",))
    assert got.received_at == T0
    assert got.answered_at == T0 + timedelta(seconds=12)
    # Opened again (a replay, a resync, a retry): the same one, nothing new.
    again, opened_again = store.open_for_call(
        call, agent_id="agent1", at=T0 + timedelta(seconds=30), repeat_window=timedelta(hours=24)
    )
    assert (again, opened_again) == (inc, False)
    assert count(engine, INCIDENTS) == 1
    assert count(engine, HISTORY) == 1
    assert count(engine, OUTBOX) == 1  # incident.created, once


def test_a_repeat_caller_is_linked_to_the_open_incident(engine: Engine) -> None:
    store = IncidentStore(engine)
    window = timedelta(hours=24)
    first, _ = store.open_for_call(
        answered_call("a"), agent_id="agent1", at=T0, repeat_window=window
    )
    later = T0 + timedelta(hours=3)
    second, _ = store.open_for_call(
        answered_call("b", at=later), agent_id="agent1", at=later, repeat_window=window
    )
    assert second.related_incident_id == first.id
    # Another caller is not linked; nor is the same caller past the window.
    other, _ = store.open_for_call(
        answered_call("c", number="0399999999", at=later), agent_id="a", at=later,
        repeat_window=window,
    )  # fmt: skip
    assert other.related_incident_id is None
    much_later = T0 + timedelta(days=3)
    third, _ = store.open_for_call(
        answered_call("d", at=much_later), agent_id="a", at=much_later, repeat_window=window
    )
    assert third.related_incident_id is None
    # Once resolved, the earlier one is not "open" any more: no link.
    assert second.id is not None
    store.change(second.id, "resolve", "agent1", later + timedelta(minutes=5))
    assert first.id is not None
    store.change(first.id, "resolve", "agent1", later + timedelta(minutes=5))
    fourth, _ = store.open_for_call(
        answered_call("e", at=later + timedelta(hours=1)),
        agent_id="a",
        at=later + timedelta(hours=1),
        repeat_window=window,
    )
    assert fourth.related_incident_id is None


def test_the_lifecycle_keeps_history_and_sends_its_webhooks(engine: Engine) -> None:
    store = IncidentStore(engine, webhooks=HOOKS)
    inc, _ = store.open_for_call(
        answered_call("x"), agent_id="agent1", at=T0, repeat_window=timedelta(0)
    )
    assert inc.id is not None
    i = inc.id
    m = timedelta(minutes=1)
    store.change(i, "start", "agent1", T0 + m)
    store.change(i, "escalate", "agent1", T0 + 5 * m, to="second-line")
    store.change(i, "report_progress", "agent1", T0 + 20 * m, how="phone", note="折り返し")
    store.change(i, "answer_escalation", "second-line", T0 + 40 * m, note="patched")
    done = store.change(i, "resolve", "agent1", T0 + 45 * m)
    assert (done.status, done.resolution) == ("resolved", "second_line")
    assert [(h.action, h.actor) for h in store.history(i)] == [
        ("created", "system"),
        ("started", "agent1"),
        ("escalated", "agent1"),
        ("progress_reported", "agent1"),
        ("escalation_answered", "second-line"),
        ("resolved", "agent1"),
    ]
    with engine.connect() as conn:
        events = [r.event for r in conn.execute(select(OUTBOX).order_by(OUTBOX.c.id))]
    # The configured events only (escalation_answered is not among the defaults).
    assert events == ["incident.created", "incident.escalated", "incident.resolved"]


def test_a_refused_change_changes_nothing(engine: Engine) -> None:
    store = IncidentStore(engine, webhooks=HOOKS)
    inc, _ = store.open_for_call(
        answered_call("x"), agent_id="agent1", at=T0, repeat_window=timedelta(0)
    )
    assert inc.id is not None
    store.change(inc.id, "resolve", "agent1", T0 + timedelta(minutes=3))
    store.change(inc.id, "close", "agent1", T0 + timedelta(minutes=4))
    with pytest.raises(IncidentError) as err:
        store.change(inc.id, "escalate", "agent1", T0 + timedelta(minutes=5), to="vendor")
    assert err.value.field == "status"
    with pytest.raises(IncidentError) as err:
        store.change(inc.id, "fly", "agent1", T0)
    assert err.value.field == "action"
    with pytest.raises(IncidentNotFound):
        store.change(999, "start", "agent1", T0)
    assert store.get(inc.id).status == "closed"
    assert count(engine, HISTORY) == 3
    assert count(engine, OUTBOX) == 2  # created, resolved: nothing for the refused ones


def test_concurrent_changes_are_all_kept(engine: Engine) -> None:
    """Eight threads report progress on one incident at once: eight reports, eight
    history rows, version 9 (the version check retries the losers on fresh data)."""
    store = IncidentStore(engine)
    inc, _ = store.open_for_call(
        answered_call("x"), agent_id="agent1", at=T0, repeat_window=timedelta(0)
    )
    assert inc.id is not None
    incident_id = inc.id
    errors: list[BaseException] = []

    def report(n: int) -> None:
        try:
            store.change(
                incident_id, "report_progress", f"agent{n}", T0 + timedelta(minutes=10), how="email"
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=report, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = store.get(incident_id)
    assert sorted(r.by for r in got.progress_reports) == sorted(f"agent{n}" for n in range(8))
    assert count(engine, HISTORY) == 9
    with engine.connect() as conn:
        assert conn.execute(select(INCIDENTS.c.version)).scalar_one() == 9


def test_search_filters(engine: Engine) -> None:
    store = IncidentStore(engine)
    w = timedelta(0)
    for n, (agent, number) in enumerate([("agent1", "01"), ("agent2", "02"), ("agent1", "03")]):
        call = answered_call(f"L{n}", number=number, at=T0 + timedelta(hours=n))
        call.agent_interface = f"PJSIP/{agent}"
        store.open_for_call(call, agent_id=agent, at=T0 + timedelta(hours=n), repeat_window=w)
    assert [i.caller_number for i in store.search(IncidentFilter(agent_id="agent1"))] == [
        "03",
        "01",
    ]  # newest first
    assert [i.caller_number for i in store.search(IncidentFilter(caller_number="02"))] == ["02"]
    window = IncidentFilter(
        received_from=T0 + timedelta(minutes=30), received_to=T0 + timedelta(hours=2)
    )
    assert [i.caller_number for i in store.search(window)] == ["02"]
    assert len(store.search(IncidentFilter(limit=2))) == 2
    assert len(store.search(IncidentFilter(open_only=True))) == 3
    assert store.search(IncidentFilter(status=("closed",))) == []


def test_surveys_are_stored_once_and_all_or_none(engine: Engine) -> None:
    store = IncidentStore(engine)
    inc, _ = store.open_for_call(
        answered_call("x"), agent_id="agent1", at=T0, repeat_window=timedelta(0)
    )
    assert inc.id is not None
    r = SurveyResponse("0311110001", inc.id, (4,), T0 + timedelta(minutes=5))
    assert store.add_survey(r, "phone") is True
    assert store.add_survey(r, "phone") is False  # replayed: not counted twice
    assert [s.answers for s in store.surveys_of([inc.id])] == [(4,)]
    batch = [
        SurveyResponse("a@example.jp", None, (5, 3), T0),
        SurveyResponse("b@example.jp", 12345, (1,), T0),  # no such incident
    ]
    with pytest.raises(IncidentNotFound):
        store.add_surveys(batch, "csv")
    assert len(store.surveys()) == 1  # the good row of the bad batch was not kept


# -- the desk: from the daemon's event handler to the store --------------------------------


async def test_the_desk_opens_in_order_and_retries_through_an_outage(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IncidentStore(engine)
    desk = IncidentDesk(
        store, retry_min=0.01, retry_max=0.05, clock=lambda: T0 + timedelta(seconds=20)
    )
    real = store.open_for_calls
    failures = {"left": 3}

    def flaky(*args: object, **kwargs: object) -> object:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "open_for_calls", flaky)
    await desk.start()
    try:
        call = answered_call("cclab-9.9")
        desk.call_answered(call)
        # The survey key comes right after; it must land on the incident opened first.
        desk.survey_answer("lab", "cclab-9.9", "0311110001", 5, T0 + timedelta(minutes=3))
        call.ended_at = call.arrived_at + 999  # the tracker goes on; the desk kept a copy
        for _ in range(200):
            if desk.pending == 0 and "cclab-9.9" in desk.opened:
                break
            await asyncio.sleep(0.01)
    finally:
        await desk.stop()
    assert desk.failures == 3
    inc = store.find_by_call("lab", "cclab-9.9")
    assert inc is not None
    assert inc.agent_id == "agent1"
    assert [s.answers for s in store.surveys_of([inc.id or 0])] == [(5,)]


async def test_a_survey_without_an_incident_is_kept_unlinked(engine: Engine) -> None:
    store = IncidentStore(engine)
    desk = IncidentDesk(store)
    await desk.start()
    desk.survey_answer("lab", "never-answered", "0311110001", 2, T0)
    await desk.stop()
    [s] = store.surveys()
    assert (s.incident_id, s.answers) == (None, (2,))


def test_times_in_any_zone_come_back_as_the_same_instant(engine: Engine) -> None:
    """SQLite drops offsets: a +09:00 time must be stored as UTC, not as its wall clock."""
    from zoneinfo import ZoneInfo

    jst = ZoneInfo("Asia/Tokyo")
    store = IncidentStore(engine)
    inc, _ = store.open_for_call(
        answered_call("x"), agent_id="agent1", at=T0, repeat_window=timedelta(0)
    )
    assert inc.id is not None
    at = (T0 + timedelta(minutes=7)).astimezone(jst)
    store.change(inc.id, "escalate", "agent1", at, to="second-line")
    got = store.get(inc.id)
    assert got.escalated_at == at
    assert got.updated_at == at
    # and the next change, UTC or not, is checked against the right instant
    store.change(inc.id, "answer_escalation", "second-line", T0 + timedelta(minutes=8))


def test_two_writers_opening_the_same_call_make_one_incident(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both looked first and saw nothing (two daemons, or a retry racing the original):
    the second insert loses on the unique key and adds no history and no webhook."""
    store = IncidentStore(engine, webhooks=HOOKS)
    call = answered_call("race")
    first, opened = store.open_for_call(call, agent_id="agent1", at=T0, repeat_window=timedelta(0))
    assert opened
    real = store.find_by_call
    looks = {"n": 0}

    def blind_once(server_id: str, linkedid: str) -> object:
        looks["n"] += 1
        return None if looks["n"] == 1 else real(server_id, linkedid)

    monkeypatch.setattr(store, "find_by_call", blind_once)
    again, opened = store.open_for_call(call, agent_id="agent1", at=T0, repeat_window=timedelta(0))
    assert (again, opened) == (first, False)
    assert (count(engine, INCIDENTS), count(engine, HISTORY), count(engine, OUTBOX)) == (1, 1, 1)
