"""The follow-up store on SQLite and PostgreSQL: one open entry per number, each call
applied once, call-backs' results, the agent's word, the recall figures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select

from callcenter.followups.rules import ClosedBy, Reason, Result, Status
from callcenter.followups.store import (
    Change,
    FollowupClosedError,
    FollowupStore,
    UnknownFollowupError,
)
from callcenter.store.models import Base, FollowupCallRow, FollowupRow
from callcenter.telephony.calls import Outcome
from tests.unit.followups.calls import T0, call

NUMBER = "0300000001"


def utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def test_the_migration_makes_the_models_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "followup" in repr(d)] == []


def test_an_abandoned_call_opens_an_entry_and_repeats_add_to_it(engine: Engine) -> None:
    store = FollowupStore(engine)
    first = store.call_finished(call("a1", NUMBER, Outcome.ABANDONED, at=0))
    assert first is not None
    assert first.effect == "opened"
    # The same call again (the PBX record, a replay): nothing changes.
    assert store.call_finished(call("a1", NUMBER, Outcome.ABANDONED, at=0)) is None
    again = store.call_finished(call("a2", "03-0000-0001", Outcome.VOICEMAIL, at=600, queue="vmq"))
    assert again == Change(first.followup_id, "added")
    # A one-ring hang-up and an after-hours call of another number.
    assert store.call_finished(call("a3", "0300000002", Outcome.SHORT_ABANDONED)) is None
    other = store.call_finished(call("a4", "0300000002", Outcome.AFTER_HOURS, at=30))
    assert other is not None
    assert other.effect == "opened"
    listed, total = store.entries()
    assert total == 2
    e = listed[0].entry
    assert (e.caller_num, e.calls, e.reason, e.queue, e.status) == (
        NUMBER,
        2,
        Reason.VOICEMAIL,
        "vmq",
        Status.OPEN,
    )
    assert (e.opened_at, e.last_call_at) == (utc(T0), utc(T0 + 600))
    assert [f.entry.caller_num for f in store.entries(reasons=[Reason.AFTER_HOURS])[0]] == [
        "0300000002"
    ]
    assert store.entries(queue="support")[1] == 1
    assert store.entries(caller="03-0000-0001")[0][0].id == first.followup_id


def test_an_answered_repeat_call_reaches_the_caller(engine: Engine) -> None:
    store = FollowupStore(engine)
    opened = store.call_finished(call("a1", NUMBER, Outcome.ABANDONED, at=0))
    assert opened is not None
    # An unrelated answered call changes nothing and is not kept.
    assert store.call_finished(call("b0", "0300000009", Outcome.ANSWERED, answered_after=3)) is None
    reached = store.call_finished(call("b1", NUMBER, Outcome.ANSWERED, at=900, answered_after=20))
    assert reached == Change(opened.followup_id, "reached")
    got = store.get(opened.followup_id).entry
    assert (got.status, got.closed_by, got.closed_ref) == (
        Status.REACHED,
        ClosedBy.CALL_AGAIN,
        "b1",
    )
    assert got.closed_at == utc(T0 + 920)
    assert store.entries()[1] == 0
    assert store.entries(statuses=[Status.REACHED])[1] == 1
    # The next missed call opens a new entry: the number has no open one any more.
    again = store.call_finished(call("a2", NUMBER, Outcome.ABANDONED, at=3600))
    assert again is not None
    assert again.effect == "opened"
    assert again.followup_id != opened.followup_id
    with engine.connect() as conn:
        effects = dict(
            (r.linkedid, r.effect)
            for r in conn.execute(select(FollowupCallRow.linkedid, FollowupCallRow.effect))
        )
    assert effects == {"a1": "opened", "b1": "reached", "a2": "opened"}


def test_an_estimate_that_changed_nothing_does_not_hide_the_pbx_record(engine: Engine) -> None:
    store = FollowupStore(engine)
    assert store.call_finished(call("c1", NUMBER, Outcome.UNKNOWN)) is None
    done = store.call_finished(call("c1", NUMBER, Outcome.ABANDONED))
    assert done is not None
    assert done.effect == "opened"


def test_concurrent_calls_of_one_number_make_one_open_entry(engine: Engine) -> None:
    store = FollowupStore(engine)
    calls = [call(f"p{i}", NUMBER, Outcome.ABANDONED, at=i) for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        changes = list(pool.map(store.call_finished, calls))
    assert sorted(c.effect for c in changes if c is not None) == ["added"] * 7 + ["opened"]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(FollowupRow)) == 1
    assert store.entries()[0][0].entry.calls == 8


def test_a_call_back_answered_reaches_the_caller(engine: Engine) -> None:
    store = FollowupStore(engine)
    opened = store.call_finished(call("a1", NUMBER, Outcome.ABANDONED))
    assert opened is not None
    start = utc(T0 + 300)
    entry, attempt = store.start_attempt(opened.followup_id, "agent1", start)
    assert entry.entry.attempts == 1
    pending = store.get(opened.followup_id).pending
    assert pending is not None
    assert (pending.id, pending.agent_id, pending.result) == (
        attempt,
        "agent1",
        None,
    )
    answered = store.attempt_result(attempt, Result.REACHED, start + timedelta(seconds=9), "ANSWER")
    assert answered is not None
    assert answered.entry.status is Status.REACHED
    # The hang-up's status comes next: the first result counts.
    assert store.attempt_result(attempt, Result.NO_ANSWER, start + timedelta(seconds=60)) is None
    got = store.get(opened.followup_id)
    assert got.pending is None
    assert (got.entry.closed_by, got.entry.closed_at, got.entry.last_result) == (
        ClosedBy.CALLBACK,
        start + timedelta(seconds=9),
        Result.REACHED,
    )
    with pytest.raises(FollowupClosedError):
        store.start_attempt(opened.followup_id, "agent1", start)
    [att] = store.attempts(opened.followup_id)
    assert (att.result, att.detail, att.set_by) == (Result.REACHED, "ANSWER", "pbx")


def test_no_answer_leaves_it_open_and_the_agent_sets_a_wrong_number(engine: Engine) -> None:
    store = FollowupStore(engine)
    opened = store.call_finished(call("a1", NUMBER, Outcome.CALLBACK))
    assert opened is not None
    fid = opened.followup_id
    start = utc(T0 + 60)
    _, first = store.start_attempt(fid, "agent1", start)
    after = store.attempt_result(first, Result.NO_ANSWER, start, "NOANSWER")
    assert after is not None
    assert after.entry.status is Status.OPEN
    _, second = store.start_attempt(fid, "agent2", start + timedelta(hours=1))
    # The agent's word lands on the pending call-back.
    done = store.set_result(
        fid, Result.WRONG_NUMBER, start + timedelta(hours=1), "agent2", "agent2"
    )
    assert (done.entry.status, done.entry.attempts) == (Status.WRONG_NUMBER, 2)
    results = [(a.id, a.result, a.set_by) for a in store.attempts(fid)]
    assert results == [
        (first, Result.NO_ANSWER, "pbx"),
        (second, Result.WRONG_NUMBER, "agent2"),
    ]
    with pytest.raises(FollowupClosedError):
        store.set_result(fid, Result.NO_ANSWER, start, "agent2", "agent2")
    with pytest.raises(UnknownFollowupError):
        store.set_result(fid + 1000, Result.NO_ANSWER, start, "agent2", "agent2")


def test_a_reached_call_back_corrected_to_a_wrong_number(engine: Engine) -> None:
    store = FollowupStore(engine)
    opened = store.call_finished(call("a1", NUMBER, Outcome.ABANDONED))
    assert opened is not None
    fid = opened.followup_id
    _, attempt = store.start_attempt(fid, "agent1", utc(T0 + 60))
    store.attempt_result(attempt, Result.REACHED, utc(T0 + 70))
    # Somebody else answered: the agent says so.
    done = store.set_result(fid, Result.WRONG_NUMBER, utc(T0 + 200), "agent1", "agent1")
    assert (done.entry.status, done.entry.closed_by) == (Status.WRONG_NUMBER, ClosedBy.AGENT)
    assert [a.result for a in store.attempts(fid)] == [Result.WRONG_NUMBER]
    # Without a call-back, the agent's word is an attempt of its own.
    other = store.call_finished(call("a2", "0300000002", Outcome.ABANDONED))
    assert other is not None
    done = store.set_result(other.followup_id, Result.REACHED, utc(T0 + 90), "sv", None)
    assert done.entry.status is Status.REACHED
    assert [(a.result, a.set_by) for a in store.attempts(other.followup_id)] == [
        (Result.REACHED, "sv")
    ]


def test_recall_figures_of_a_period(engine: Engine) -> None:
    store = FollowupStore(engine)
    for i, number in enumerate(["0300000001", "0300000002", "0300000003", "0300000004"]):
        store.call_finished(call(f"a{i}", number, Outcome.ABANDONED, at=i * 60))
    store.call_finished(call("r1", "0300000001", Outcome.ANSWERED, at=600, answered_after=0))
    opened = store.entries(caller="0300000002")[0][0]
    _, attempt = store.start_attempt(opened.id, "agent1", utc(T0 + 1000))
    store.attempt_result(attempt, Result.REACHED, utc(T0 + 60 + 1140))
    f = store.recall(utc(T0), utc(T0 + 86400))
    assert (f.opened, f.reached, f.by_call_again, f.by_callback, f.still_open) == (4, 2, 1, 1, 2)
    assert f.share_reached == 0.5
    assert f.mean_seconds_to_reach == (600 + 1140) / 2
    assert store.recall(utc(T0 + 61), utc(T0 + 86400)).opened == 2
