"""Call figures over hand-made calls, every value worked out by hand (docs/metrics.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.metrics import CallFigures, Target, combine, compute_figures
from callcenter.metrics.settings import MetricsConfig
from callcenter.telephony.calls import CallRecord, Outcome
from tests.unit.metrics.records import CFG, T0, abandoned, after_hours, answered, call, short

# Ten calls: the wait and handle time of each answered call, and what the figures must be.
# answered waits 10, 20 (exactly the service level), 30.5, 60 (after the busy announcement),
# 5 (never queued: wait from arrival); handles 100 (of which 40 parked), 200, 60, 100, 60.
MIXED_TEN = [
    call(Outcome.ANSWERED, queued=2, answered=12, ended=112, park=40),
    answered(20, handle=200),
    answered(30.5),
    answered(60, handle=100, busy=True),
    call(Outcome.ANSWERED, answered=5, ended=65),
    abandoned(45),  # in queue
    abandoned(120, busy=True),  # after the busy announcement: an abandon, not busy
    short(),
    after_hours(),
    call(Outcome.VOICEMAIL, queued=2, ended=500, routed="voicemail"),  # wait 498: not in max
]
MIXED_TEN_EXPECTED: dict[str, Any] = {
    "calls": 10,
    "total_incoming": 8,  # 10 - 1 after hours - 1 short
    "answered": 5,
    "abandoned": 2,
    "short_abandoned": 1,
    "after_hours": 1,
    "voicemail": 1,
    "transferred_out": 0,
    "callback": 0,
    "failed": 0,
    "unknown": 0,
    "busy": 1,
    "answered_within_sl": 3,  # waits 10, 20, 5
    "abandonment_rate": 0.25,  # 2 / 8
    "busy_rate": 0.125,  # 1 / 8
    "service_level": 0.375,  # 3 / 8
    "service_level_seconds": 20.0,
    "asa_seconds": 25.1,  # (10 + 20 + 30.5 + 60 + 5) / 5
    "aht_seconds": 104.0,  # (100 + 200 + 60 + 100 + 60) / 5: parked time included
    "max_wait_seconds": 120.0,  # the busy abandon; voicemail and short abandons not counted
    "targets": {
        "abandonment_rate": {"target": 0.1, "met": False},
        "busy_rate": {"target": 0.05, "met": False},
        "service_level": {"target": 0.8, "met": False},
    },
}

# Twenty calls inside every target: 18 answered within 20 s, 1 busy then answered late,
# 1 abandoned; plus 3 outside the rates (after hours, short, unknown).
GOOD_MONTH = [
    *[answered(w) for w in ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 2)[:18]],
    answered(40, busy=True),
    abandoned(30),
    after_hours(),
    short(),
    call(Outcome.UNKNOWN, queued=2, ended=50, disconnected=True),
]
GOOD_MONTH_EXPECTED: dict[str, Any] = {
    "calls": 23,
    "total_incoming": 20,
    "answered": 19,
    "abandoned": 1,
    "busy": 1,
    "unknown": 1,
    "answered_within_sl": 18,
    "abandonment_rate": 0.05,
    "busy_rate": 1 / 20,  # exactly the busy target, so NOT met
    "service_level": 0.9,
    # waits 1..10 then 1..8 (55 + 36 = 91), and 40: 131 over 19 answered calls
    "asa_seconds": 131 / 19,
    "aht_seconds": 60.0,
    "max_wait_seconds": 40.0,
    "targets": {
        "abandonment_rate": {"target": 0.1, "met": True},
        "busy_rate": {"target": 0.05, "met": False},
        "service_level": {"target": 0.8, "met": True},
    },
}

NO_INCOMING_EXPECTED: dict[str, Any] = {
    "calls": 3,
    "total_incoming": 0,
    "abandonment_rate": 0.0,
    "busy_rate": 0.0,
    "service_level": 0.0,
    "asa_seconds": None,
    "aht_seconds": None,
    "max_wait_seconds": None,  # a short abandon's wait is not a wait that counts
    "targets": {
        "abandonment_rate": {"target": 0.1, "met": None},
        "busy_rate": {"target": 0.05, "met": None},
        "service_level": {"target": 0.8, "met": None},
    },
}

ALL_LOST_EXPECTED: dict[str, Any] = {
    "total_incoming": 3,
    "answered": 0,
    "abandoned": 2,
    "failed": 1,
    "abandonment_rate": 2 / 3,
    "service_level": 0.0,
    "asa_seconds": None,  # nothing answered: no mean
    "aht_seconds": None,
    "max_wait_seconds": 15.0,  # an abandon's wait; the failed call's 90 s does not count
    "targets": {
        "abandonment_rate": {"target": 0.1, "met": False},
        "busy_rate": {"target": 0.05, "met": True},  # 0 busy of 3
        "service_level": {"target": 0.8, "met": False},
    },
}


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param(MIXED_TEN, MIXED_TEN_EXPECTED, id="mixed-ten"),
        pytest.param(GOOD_MONTH, GOOD_MONTH_EXPECTED, id="targets-met"),
        pytest.param([], {**NO_INCOMING_EXPECTED, "calls": 0}, id="no-calls"),
        pytest.param(
            [after_hours(), short(), call(Outcome.UNKNOWN, ended=60, disconnected=True)],
            NO_INCOMING_EXPECTED,
            id="only-calls-outside-the-rates",
        ),
        pytest.param(
            [
                abandoned(15),
                abandoned(8, busy=True),
                call(Outcome.FAILED, queued=2, ended=92, system_end="timeout"),
            ],
            ALL_LOST_EXPECTED,
            id="nothing-answered",
        ),
    ],
)
def test_figures_by_hand(records: list[CallRecord], expected: dict[str, Any]) -> None:
    got = compute_figures(records, CFG).to_dict()
    for key, value in expected.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert got[key] == value, key


def test_busy_then_answered_is_busy_and_busy_then_hung_up_is_abandoned() -> None:
    f = compute_figures([answered(30, busy=True), abandoned(30, busy=True)], CFG)
    assert (f.busy, f.answered, f.abandoned) == (1, 1, 1)


@pytest.mark.parametrize(
    ("records", "rate", "value", "met"),
    [
        # Abandonment: met only strictly below 10%.
        ([abandoned(30)] + [answered(5)] * 9, "abandonment_rate", 0.1, False),
        ([abandoned(30)] + [answered(5)] * 10, "abandonment_rate", 1 / 11, True),
        # Busy: met only strictly below 5%.
        ([answered(5, busy=True)] + [answered(5)] * 19, "busy_rate", 0.05, False),
        ([answered(5, busy=True)] + [answered(5)] * 20, "busy_rate", 1 / 21, True),
        # Service level: met at 80% exactly.
        ([answered(20)] * 8 + [answered(21)] * 2, "service_level", 0.8, True),
        ([answered(20)] * 7 + [answered(21)] * 3, "service_level", 0.7, False),
        # A wait of exactly service_level_seconds is within it; a hair more is not.
        ([answered(20.0)], "service_level", 1.0, True),
        ([answered(20.000001)], "service_level", 0.0, False),
    ],
)
def test_targets_at_their_boundaries(
    records: list[CallRecord], rate: str, value: float, met: bool
) -> None:
    f = compute_figures(records, CFG)
    assert getattr(f, rate) == pytest.approx(value, rel=1e-12)
    assert f.targets[rate].met is met


def test_settings_change_thresholds_and_targets() -> None:
    cfg = MetricsConfig(service_level_seconds=30.0, service_level_target=0.9)
    f = compute_figures([answered(25)] * 9 + [answered(31)], cfg)
    assert f.answered_within_sl == 9
    assert f.service_level_seconds == 30.0
    assert f.targets["service_level"] == Target(0.9, True)
    assert compute_figures([answered(25)], CFG).answered_within_sl == 0


def test_a_call_without_outcome_is_refused() -> None:
    r = CallRecord(server_id="lab", linkedid="open", arrived_at=T0)
    with pytest.raises(ValueError, match="open"):
        compute_figures([answered(5), r], CFG)


def test_to_dict_is_json_with_the_documented_keys() -> None:
    d = json.loads(json.dumps(compute_figures(MIXED_TEN, CFG).to_dict()))
    for key in (
        "total_incoming",
        "answered",
        "abandoned",
        "short_abandoned",
        "busy",
        "after_hours",
        "transferred_out",
        "voicemail",
        "callback",
        "failed",
        "unknown",
        "abandonment_rate",
        "busy_rate",
        "service_level",
        "service_level_seconds",
        "asa_seconds",
        "aht_seconds",
        "max_wait_seconds",
    ):
        assert key in d, key
    assert set(d["targets"]) == {"abandonment_rate", "busy_rate", "service_level"}


# -- combining: counts and sums form a monoid, rates are derived after adding ----------


def test_days_add_up_to_the_month() -> None:
    day1, day2 = MIXED_TEN[:6], MIXED_TEN[6:]
    month = compute_figures(day1, CFG) + compute_figures(day2, CFG)
    assert month == compute_figures(MIXED_TEN, CFG)
    # Rates are not averaged: day 1 is 1/6 abandoned, day 2 is 1/2; the month is 2/8.
    assert compute_figures(day1, CFG).abandonment_rate == pytest.approx(1 / 6)
    assert compute_figures(day2, CFG).abandonment_rate == pytest.approx(1 / 2)
    assert month.abandonment_rate == 0.25


def test_empty_figures_are_the_identity() -> None:
    f = compute_figures(MIXED_TEN, CFG)
    assert f + CallFigures(CFG) == f
    assert CallFigures(CFG) + f == f
    assert combine([], CFG) == CallFigures(CFG) == compute_figures([], CFG)


def test_figures_of_different_settings_do_not_add() -> None:
    other = CFG.model_copy(update={"service_level_seconds": 30.0})
    with pytest.raises(ValueError, match="different metrics settings"):
        compute_figures(MIXED_TEN, CFG) + compute_figures(MIXED_TEN, other)


POOL = [*MIXED_TEN, *GOOD_MONTH]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, len(POOL) - 1), max_size=30), st.lists(st.integers(0, 30)))
def test_any_split_adds_up(picks: list[int], cuts: list[int]) -> None:
    records = [POOL[i] for i in picks]
    bounds = sorted({0, len(records), *(c for c in cuts if c < len(records))})
    parts = [compute_figures(records[a:b], CFG) for a, b in pairwise(bounds)]
    whole = compute_figures(records, CFG)
    total = combine(parts, CFG)
    # Counts and the max add exactly; float sums up to rounding.
    assert replace(total, wait_sum=0.0, handle_sum=0.0) == replace(
        whole, wait_sum=0.0, handle_sum=0.0
    )
    assert total.wait_sum == pytest.approx(whole.wait_sum)
    assert total.handle_sum == pytest.approx(whole.handle_sum)
