"""Finished calls applied in batches (the desk writes the calls queued since its last
write in one transaction): the same entries as one by one, each call once; an outage
retries the batch, a refused batch is written one by one so only the bad call is left
out, and a call-back's result between calls keeps its place."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import structlog.testing
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from callcenter.followups import desk as desk_mod
from callcenter.followups.desk import FollowupDesk
from callcenter.followups.rules import Reason, Result, Status
from callcenter.followups.settings import FollowupsConfig
from callcenter.followups.store import Change, FollowupStore
from callcenter.telephony.calls import CallRecord, Outcome
from tests.unit.followups.calls import call

NUMBER = "0300000001"


def test_a_batch_applies_calls_in_order_once_each(engine: Engine) -> None:
    store = FollowupStore(engine)
    calls = [
        call("a1", NUMBER, Outcome.ABANDONED, at=0),
        call("a2", NUMBER, Outcome.VOICEMAIL, at=60),  # the same caller again: added
        call("x1", "0300000009", Outcome.ANSWERED, answered_after=3),  # nothing to do
        call("a1", NUMBER, Outcome.ABANDONED, at=0),  # a replay in the same batch
        call("b1", NUMBER, Outcome.ANSWERED, at=900, answered_after=20),  # reached
        call("c1", "0300000002", Outcome.AFTER_HOURS, at=30),
    ]
    changes = store.calls_finished(calls)
    assert len(changes) == 6
    opened = changes[0]
    assert opened is not None
    assert opened.effect == "opened"
    assert changes[1:5] == [
        Change(opened.followup_id, "added"),
        None,  # answered, but nobody of that number was on the list
        None,  # already applied
        Change(opened.followup_id, "reached"),
    ]
    got = store.get(opened.followup_id).entry
    assert (got.calls, got.status, got.reason) == (2, Status.REACHED, Reason.VOICEMAIL)
    listed, total = store.entries()
    assert total == 1
    assert listed[0].entry.caller_num == "0300000002"
    # The whole batch again (a resync): nothing changes.
    assert store.calls_finished(calls) == [None] * 6
    assert store.calls_finished([call("s1", "0300000003", Outcome.SHORT_ABANDONED)]) == [None]


class Recorder:
    """The store's writes as the desk makes them, with an outage and a refusal."""

    def __init__(self, store: FollowupStore, *, down: int, refuse: str | None) -> None:
        self.store = store
        self.down = down
        self.refuse = refuse
        self.writes: list[tuple[str, ...]] = []

    def _check(self, calls: list[CallRecord]) -> None:
        if self.down:
            self.down -= 1
            raise OperationalError("INSERT", {}, Exception("the database is away"))
        if any(c.linkedid == self.refuse for c in calls):
            raise ValueError(f"{self.refuse} is refused")

    def calls_finished(self, calls: list[CallRecord]) -> object:
        self.writes.append(tuple(c.linkedid for c in calls))
        self._check(calls)
        return self.store.calls_finished(calls)

    def call_finished(self, c: CallRecord) -> object:
        self.writes.append((c.linkedid,))
        self._check([c])
        return self.store.call_finished(c)

    def attempt_result(self, attempt_id: int, *args: Any) -> object:
        self.writes.append((f"attempt {attempt_id}",))
        return self.store.attempt_result(attempt_id, *args)


async def test_the_desk_batches_calls_through_an_outage_and_a_refusal(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk_mod, "CALLS_BATCH", 4)
    store = FollowupStore(engine)
    # An open entry with a call-back under way, whose result comes between the calls.
    first = store.call_finished(call("old", "0300000099", Outcome.ABANDONED))
    assert first is not None
    _, attempt = store.start_attempt(first.followup_id, "agent1", datetime.now(UTC))
    recorder = Recorder(store, down=2, refuse="n5")
    desk = FollowupDesk(
        cast(FollowupStore, recorder),
        cast(Any, None),  # no AMI: only the writer runs here
        cast(Any, None),
        [],
        FollowupsConfig(),
        retry_min=0.001,
        retry_max=0.002,
    )
    for i in range(6):
        desk.call_finished(call(f"n{i}", f"03000001{i:02d}", Outcome.ABANDONED, at=i))
    desk._result(attempt, Result.REACHED, "ANSWER", datetime.now(UTC).timestamp())
    desk.call_finished(call("n6", "0300000106", Outcome.ABANDONED, at=6))
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        run = asyncio.create_task(desk.run(stop))
        await asyncio.wait_for(desk.idle.wait(), 10)
        stop.set()
        await run
    batch1 = ("n0", "n1", "n2", "n3")
    batch2 = ("n4", "n5")
    assert recorder.writes == [
        batch1,  # the database is away: tried again after the backoff
        batch1,
        batch1,
        batch2,  # refused: written one by one, n5 left out
        ("n4",),
        ("n5",),
        (f"attempt {attempt}",),  # the result keeps its place
        ("n6",),
    ]
    numbers = {f.entry.caller_num for f in store.entries()[0]}
    assert numbers == {f"03000001{i:02d}" for i in (0, 1, 2, 3, 4, 6)}
    assert store.get(first.followup_id).entry.status is Status.REACHED
    refused = [e for e in logs if e["event"] == "followups.not_written"]
    assert [e["job"] for e in refused] == ["call n5"]
    assert "n5 is refused" in refused[0]["error"]
