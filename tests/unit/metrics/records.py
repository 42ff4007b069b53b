"""Finished call records for the metrics tests: hand-made ones and seeded random ones."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete

from callcenter.metrics import CallFigures, GroupKey
from callcenter.metrics.settings import MetricsConfig
from callcenter.store.calls import TABLE, write_calls
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord, Outcome, classify

CFG = MetricsConfig()  # short abandon 5 s, service level 20 s; targets 10%, 5%, 80%
TZ = ZoneInfo("Asia/Tokyo")
_ids = itertools.count()


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ).timestamp()


T0 = jst(2024, 6, 1, 9, 0)


def call(
    expect: Outcome,
    *,
    ended: float,
    arrived: float = T0,
    queued: float | None = None,
    answered: float | None = None,
    busy: float | None = None,
    after_hours: bool = False,
    routed: str | None = None,
    system_end: str | None = None,
    disconnected: bool = False,
    park: float = 0.0,
    queue: str | None = "support",
    agent: str = "agent1",
    server: str = "lab",
) -> CallRecord:
    """A finished call; times are seconds after ``arrived``. Classified as the tracker does."""

    def at(offset: float | None) -> float | None:
        return None if offset is None else arrived + offset

    r = CallRecord(
        server_id=server,
        linkedid=f"c{next(_ids)}",
        arrived_at=arrived,
        queue=queue,
        queued_at=at(queued),
        answered_at=at(answered),
        busy_at=at(busy),
        ended_at=arrived + ended,
        agent=agent if answered is not None else None,
        after_hours=after_hours,
        routed=routed,
        system_end=system_end,
        disconnected_end=disconnected,
        park_seconds=park,
    )
    r.outcome, r.abandon_stage = classify(r, CFG.short_abandon_seconds)
    assert r.outcome is expect, f"the test's call is {r.outcome}, not {expect}"
    return r


def answered(wait: float, handle: float = 60.0, busy: bool = False, **kw: object) -> CallRecord:
    # Joins the queue 2 s after arriving; the wait runs from there.
    return call(
        Outcome.ANSWERED,
        queued=2,
        answered=2 + wait,
        ended=2 + wait + handle,
        busy=1.5 if busy else None,
        **kw,  # type: ignore[arg-type]
    )


def abandoned(wait: float, busy: bool = False, **kw: object) -> CallRecord:
    return call(Outcome.ABANDONED, queued=2, ended=2 + wait, busy=1.5 if busy else None, **kw)  # type: ignore[arg-type]


def short(**kw: object) -> CallRecord:
    return call(Outcome.SHORT_ABANDONED, ended=3, **kw)  # type: ignore[arg-type]


def after_hours(**kw: object) -> CallRecord:
    return call(Outcome.AFTER_HOURS, ended=30, after_hours=True, **kw)  # type: ignore[arg-type]


def random_call(rng: random.Random, arrived: float) -> CallRecord:
    """Any kind of finished call, with waits often right on the thresholds (5 s, 20 s)."""
    queued = rng.choice([None, 0.0, 1.5, 3.0])
    start = arrived + (queued or 0.0)
    wait = rng.choice([0.0, 4.999, 5.0, 19.5, 20.0, 20.25, 61.0, rng.uniform(0, 300)])
    is_answered = rng.random() < 0.6
    r = CallRecord(
        server_id=rng.choice(["lab", "lab2"]),
        linkedid=f"r{next(_ids)}",
        arrived_at=arrived,
        queue=rng.choice([None, "support", "billing"]),
        queued_at=None if queued is None else start,
        busy_at=arrived + 1.0 if rng.random() < 0.2 else None,
        answered_at=start + wait if is_answered else None,
        ended_at=start + wait + (rng.choice([0.0, 30.0, 95.5]) if is_answered else 0.0),
        agent=rng.choice(["agent1", "agent2", "高橋"]) if is_answered else None,
        park_seconds=rng.choice([0.0, 0.0, 12.0]),
    )
    kind = rng.choice(["plain"] * 6 + ["after_hours", "routed", "system", "disconnected"])
    if kind == "after_hours":
        r.after_hours = True
    elif kind == "routed":
        r.routed = rng.choice(["transferred_out", "voicemail", "callback"])
    elif kind == "system":
        r.system_end = "timeout"
    elif kind == "disconnected":
        r.disconnected_end = True
    r.outcome, r.abandon_stage = classify(r, CFG.short_abandon_seconds)
    return r


def random_calls(rng: random.Random, n: int, start: float, seconds: float) -> list[CallRecord]:
    return [random_call(rng, start + round(rng.uniform(0, seconds), 3)) for _ in range(n)]


def load(engine: Engine, records: list[CallRecord]) -> None:
    """Replace the calls table's rows with these calls."""
    with engine.begin() as conn:
        conn.execute(delete(TABLE))
    write_calls(engine, [call_row(r, TZ) for r in records])


def in_period(records: list[CallRecord], day_from: str, day_to: str) -> list[CallRecord]:
    return [r for r in records if day_from <= call_row(r, TZ)["local_day"] < day_to]


def assert_same(got: CallFigures, want: CallFigures) -> None:
    """Counts and the max exactly; float sums up to rounding (SQL adds in another order)."""
    assert replace(got, wait_sum=0.0, handle_sum=0.0) == replace(want, wait_sum=0.0, handle_sum=0.0)
    assert got.wait_sum == pytest.approx(want.wait_sum, rel=1e-9, abs=1e-9)
    assert got.handle_sum == pytest.approx(want.handle_sum, rel=1e-9, abs=1e-9)


def assert_same_groups(got: dict[GroupKey, CallFigures], want: dict[GroupKey, CallFigures]) -> None:
    assert list(got) == list(want)  # the same keys, in the same order
    for key in want:
        assert_same(got[key], want[key])
